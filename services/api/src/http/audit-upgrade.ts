import type { IncomingMessage } from 'node:http';
import type { AuditWriter } from '@vmo/shared/audit';
import type { AppError } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';
import type { Principal } from '../auth/principal.ts';
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
 * A refused WebSocket upgrade (job or run stream, the agent endpoint) is a denied request like
 * any REST one when it is a 401, a 403, a 429 (the failed authentications' limiter) or a
 * policy's 404: recorded before the refusal is answered. Other refusals (a bad cursor, a real
 * 404) are not: upgrades are reads.
 */
export async function auditRefusedUpgrade(deps: UpgradeAuditDeps, req: IncomingMessage, err: AppError): Promise<void> {
  if (auditResultOf(err.status, err) !== 'denied') return;
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const forwarded = req.headers['x-forwarded-for'];
  const requestId = req.headers[REQUEST_ID_HEADER.toLowerCase()];
  const event = auditEventOf({
    method: 'GET',
    path,
    status: err.status,
    error: err,
    principal: principals.get(req),
    sourceIp: auditSourceAddress(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trustedProxyOf(deps.tokens)),
    requestId: requestIdOf(Array.isArray(requestId) ? requestId[0] : requestId),
  });
  await storeOrLog(deps.audit, deps.log, event);
}
