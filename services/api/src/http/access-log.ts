import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '@vmo/shared/logger';
import type { AuthEnv, Principal } from '../auth/principal.ts';
import { upgradePrincipalOf, upgradeRequestId } from './audit-upgrade.ts';

/** Load balancers, orchestrators and Prometheus ask these every few seconds: at debug level, not one info line each. */
const PROBES = new Set(['/health', '/health/ready', '/metrics']);

/**
 * One access line per REST request, at its end: method, path, status, duration, the request id
 * (the one answered as `X-Request-Id`: mount after `requestId()`) and who asked (the principal's
 * kind, name and user id, once authenticated).
 *
 * LOUD: the path only, never the query string's values (a token may be sent there by mistake,
 * `?token=…`, and a filter may name what someone searched for): its parameter names are kept.
 * Never a header value, never the body.
 */
export function accessLog(log: Logger): MiddlewareHandler<AuthEnv> {
  return async function accessLogHandler(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      const principal = c.get('principal') as AuthEnv['Variables']['principal'] | undefined;
      writeAccessLine(log, { requestId: c.get('requestId'), method: c.req.method, url: c.req.url, path: c.req.path, status: c.res.status, started, principal });
    }
  };
}

/** What an access line says; `started` is `performance.now()` when the request came. */
export interface AccessFields {
  requestId: string;
  method: string;
  /** The whole URL (only its query's parameter names are written) and its path. */
  url: string;
  path: string;
  status: number;
  started: number;
  principal?: Pick<Principal, 'kind' | 'name' | 'userId'> | undefined;
}

/** THE access line (REST and WebSocket upgrades alike): `request`, at debug for a healthy probe. */
export function writeAccessLine(log: Logger, f: AccessFields): void {
  const query = queryNames(f.url);
  const line = {
    requestId: f.requestId,
    method: f.method,
    path: f.path,
    ...(query.length > 0 && { query }),
    status: f.status,
    durationMs: Math.round((performance.now() - f.started) * 10) / 10,
    ...(f.principal && { principal: { kind: f.principal.kind, name: f.principal.name }, ...(f.principal.userId !== null && { userId: f.principal.userId }) }),
  };
  if (PROBES.has(f.path) && f.status < 400) log.debug(line, 'request');
  else log.info(line, 'request');
}

/** The status of an upgrade that ended with no answer: the client went, or its upgrade deadline passed (nginx's 499). */
export const UPGRADE_UNANSWERED = 499;

/**
 * The access line of one WebSocket upgrade (job stream, run stream, agent connect), written once,
 * when it is answered: 101, or the refusal's status. Its request id is the one its audit rows
 * carry; its principal, once authenticated. Call at the start of the upgrade; the returned
 * function writes the line the first time it is called and does nothing after.
 */
export function upgradeAccessLog(log: Logger, req: IncomingMessage): (status: number) => void {
  const started = performance.now();
  let written = false;
  return (status) => {
    if (written) return;
    written = true;
    const url = req.url ?? '/';
    const path = new URL(url, 'http://localhost').pathname;
    writeAccessLine(log, { requestId: upgradeRequestId(req), method: req.method ?? 'GET', url, path, status, started, principal: upgradePrincipalOf(req) });
  };
}
/** `?after=12&limit=5` → `['after', 'limit']`: names, never values. */
function queryNames(url: string): string[] {
  const at = url.indexOf('?');
  if (at === -1) return [];
  return [...new Set(new URLSearchParams(url.slice(at + 1)).keys())].slice(0, 20).map((k) => k.slice(0, 64));
}
