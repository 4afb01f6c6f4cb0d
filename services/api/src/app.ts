import { Hono } from 'hono';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { ControlPlane } from '@vmo/shared/jobs';
import type { Logger } from '@vmo/shared/logger';
import type { AuthEnv } from './auth/principal.ts';
import { requireUser } from './auth/require-user.ts';
import type { TokenStore } from './auth/token-store.ts';
import { MAX_BODY_BYTES } from './env.ts';
import { limitBody } from './http/body-limit.ts';
import { createErrorHandler } from './http/on-error.ts';
import { agentRoutes } from './routes/agents.ts';
import { healthRoutes } from './routes/health.ts';
import { hostRoutes } from './routes/hosts.ts';
import { jobRoutes } from './routes/jobs.ts';

export interface AppDeps {
  cp: ControlPlane;
  tokens: TokenStore;
  log: Logger;
  /** Extra /v1 resources mounted by later features (hosts, …). */
  extraRoutes?: Record<string, Hono<AuthEnv>>;
}

/** The REST API. WebSocket endpoints are served by the same HTTP server (server.ts). */
export function createApp({ cp, tokens, log, extraRoutes = {} }: AppDeps) {
  const app = new Hono<AuthEnv>();
  app.onError(createErrorHandler(log));
  app.notFound((c) => c.json(errorBody(new AppError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`)), 404));

  app.route('/health', healthRoutes(cp));
  const v1 = new Hono<AuthEnv>();
  v1.use('*', limitBody(MAX_BODY_BYTES));
  v1.use('*', requireUser(tokens));
  v1.route('/jobs', jobRoutes(cp));
  v1.route('/agents', agentRoutes(cp));
  v1.route('/hosts', hostRoutes(cp));
  for (const [path, routes] of Object.entries(extraRoutes)) v1.route(path, routes);
  app.route('/v1', v1);
  return app;
}
