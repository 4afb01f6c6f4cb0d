import type { IncomingMessage } from 'node:http';
import type { AuditWriter } from '@vmo/shared/audit';
import type { AppError } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';
import type { Principal } from '../auth/principal.ts';
import { recordProxyUserChange } from '../auth/proxy-identity.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { storeOrLog } from './audit.ts';
import { auditEventOf, auditResultOf } from './audit-event.ts';
import { auditSourceAddress, trustedProxyOf } from './audit-source.ts';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.ts';

export interface UpgradeAuditDeps {
  audit: AuditWriter;
  log: Logger;
  /** Its proxy settings say which peers' X-Forwarded-For to believe (VMO_TRUSTED_PROXIES). */
  tokens: TokenStore;
}

/** Who an upgrade authenticated as, for the row of a refusal that comes after the token check. */
const principals = new WeakMap<IncomingMessage, Principal>();

export function noteUpgradePrincipal(req: IncomingMessage, principal: Principal): Principal {
  principals.set(req, principal);
  return principal;
}

/**
 * What every stream upgrade does once authenticate() answered: note who it is (for the row of a
 * later refusal), and record a proxy user this upgrade created or changed (users.create /
 * users.update, as the same first sight over REST records), whatever the upgrade's outcome.
 */
export async function auditUpgradePrincipal(deps: UpgradeAuditDeps, req: IncomingMessage, principal: Principal): Promise<Principal> {
  noteUpgradePrincipal(req, principal);
  await recordProxyUserChange(principal, (event) => storeOrLog(deps.audit, deps.log, event), { sourceIp: upgradeSourceIp(deps, req), requestId: upgradeRequestId(req) });
  return principal;
}

/** Who an upgrade authenticated as, once it has (for its access line: http/access-log.ts). */
export const upgradePrincipalOf = (req: IncomingMessage): Principal | undefined => principals.get(req);

const requestIds = new WeakMap<IncomingMessage, string>();

/** The upgrade's request id: the caller's X-Request-Id when valid, else one made once per upgrade, so all its rows (and its access line) share it. */
export function upgradeRequestId(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (id === undefined) {
    const header = req.headers[REQUEST_ID_HEADER.toLowerCase()];
    id = requestIdOf(Array.isArray(header) ? header[0] : header);
    requestIds.set(req, id);
  }
  return id;
}

/** The client's address: the peer, or the client a trusted proxy forwarded (X-Forwarded-For). */
function upgradeSourceIp(deps: UpgradeAuditDeps, req: IncomingMessage): string | null {
  const forwarded = req.headers['x-forwarded-for'];
  return auditSourceAddress(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trustedProxyOf(deps.tokens));
}

/**
 * A refused WebSocket upgrade (job or run stream, the agent endpoint) is a denied request like
 * any REST one when it is a 401, a 403, a 429 (the failed authentications' limiter) or a
 * policy's 404: recorded before the refusal is answered. Other refusals (a bad cursor, a real
 * 404) are not: upgrades are reads.
 */
export async function auditRefusedUpgrade(deps: UpgradeAuditDeps, req: IncomingMessage, err: AppError): Promise<void> {
  if (auditResultOf(err.status, err) !== 'denied') return;
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const event = auditEventOf({
    method: 'GET',
    path,
    status: err.status,
    error: err,
    principal: principals.get(req),
    sourceIp: upgradeSourceIp(deps, req),
    requestId: upgradeRequestId(req),
  });
  await storeOrLog(deps.audit, deps.log, event);
}
