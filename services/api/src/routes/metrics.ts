import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { getMetrics, METRICS_PATH } from '@vmo/shared/api';
import type { AuditWriter } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { AppError } from '@vmo/shared/errors';
import { onTransitionOnce } from '@vmo/shared/jobs';
import type { Logger } from '@vmo/shared/logger';
import { countJobTransitions, countRedisErrors, countStoreError, offerQueueDepth, presentsMetricsToken, provideScrapeSource, renderMetrics } from '@vmo/shared/metrics';
import { authenticate } from '../auth/authenticate.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { restAuthRequest } from '../auth/require-user.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { auditRequests } from '../http/audit.ts';
import { trustedProxyOf } from '../http/audit-source.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { limitFailedAuth, type FailedAuthLimiter } from '../http/rate-limit-auth.ts';

export interface MetricsRouteDeps {
  tokens: TokenStore;
  audit: AuditWriter;
  log: Logger;
  /** VMO_METRICS_TOKEN: what a scraper presents; unset, only admins may scrape. */
  metricsToken?: string | undefined;
  /** VMO_AUTH_FAIL_RATE: a refused token here counts as on /v1, so /metrics is no way around the limit. */
  authFailures?: FailedAuthLimiter | undefined;
}

/**
 * `GET /metrics`: this process's metrics in the Prometheus text format. In `npm start` the API and
 * the worker share the process and its one registry, so this one page has both.
 *
 * Who may scrape: `Authorization: Bearer <VMO_METRICS_TOKEN>` (a scraper holds no user), or an
 * admin credential (an admin user's token, the bootstrap admin token, an admin named by the
 * trusted proxy). No credential or an unknown one is 401, anyone else 403; both are audited
 * (denied rows) like any refused /v1 request.
 */
export function metricsRoutes({ tokens, audit, log, metricsToken, authFailures }: MetricsRouteDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  app.use(METRICS_PATH, auditRequests({ writer: audit, log, isTrustedProxy: trustedProxyOf(tokens) }));
  if (authFailures) app.use(METRICS_PATH, limitFailedAuth(authFailures, tokens.proxy));
  app.use(METRICS_PATH, requireMetricsAccess(tokens, metricsToken));
  openapiRoute(app, getMetrics, async (c) => {
    const page = await renderMetrics();
    return c.body(page.body, 200, { 'content-type': page.contentType }) as never;
  });
  return app;
}

function requireMetricsAccess(tokens: TokenStore, metricsToken: string | undefined): MiddlewareHandler<AuthEnv> {
  return async function metricsAccess(c, next) {
    if (presentsMetricsToken(c.req.header('authorization'), metricsToken)) return next();
    const principal = await authenticate(tokens, restAuthRequest(c), 'missing or malformed Authorization header; expected "Bearer <VMO_METRICS_TOKEN or an admin token>"');
    c.set('principal', principal);
    if (principal.role !== 'admin') throw new AppError(403, 'forbidden', `metrics are for the metrics token (VMO_METRICS_TOKEN) or an admin; role ${principal.role} may not`, { role: principal.role });
    await next();
  };
}

/** Counts the Postgres and Redis errors that failed a request (by the store the error names). */
export function countRequestStoreErrors(): MiddlewareHandler {
  return async function storeErrors(c, next) {
    await next();
    if (c.error) countStoreError(c.error);
  };
}

/**
 * What this API node adds to its process's metrics: the transitions it wins (agent jobs' ends,
 * cancels of queued jobs), its Redis connection's errors, the queue depth and the agents holding
 * a session here, read at scrape time. Returns the stop.
 */
export function collectApiMetrics(cp: ControlPlane, gateway: { readonly connected: number }): () => void {
  const stops = [
    countJobTransitions(onTransitionOnce),
    countRedisErrors(cp.redis),
    offerQueueDepth(cp.queue),
    provideScrapeSource('agents', () => gateway.connected),
  ];
  return () => stops.forEach((stop) => stop());
}
