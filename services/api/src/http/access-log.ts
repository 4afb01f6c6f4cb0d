import type { MiddlewareHandler } from 'hono';
import type { Logger } from '@vmo/shared/logger';
import type { AuthEnv } from '../auth/principal.ts';

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
      const query = queryNames(c.req.url);
      const line = {
        requestId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        ...(query.length > 0 && { query }),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...(principal && { principal: { kind: principal.kind, name: principal.name }, ...(principal.userId !== null && { userId: principal.userId }) }),
      };
      if (PROBES.has(c.req.path) && c.res.status < 400) log.debug(line, 'request');
      else log.info(line, 'request');
    }
  };
}

/** `?after=12&limit=5` → `['after', 'limit']`: names, never values. */
function queryNames(url: string): string[] {
  const at = url.indexOf('?');
  if (at === -1) return [];
  return [...new Set(new URLSearchParams(url.slice(at + 1)).keys())].slice(0, 20).map((k) => k.slice(0, 64));
}
