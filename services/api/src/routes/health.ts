import { OpenAPIHono } from '@hono/zod-openapi';
import { health, ready } from '@vmo/shared/api';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);

/** `/health`: the process is up. `/health/ready`: Postgres and Redis answer (503 naming which do not). */
export function healthRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  openapiRoute(app, health, (c) => c.json({ status: 'ok' as const }, 200));
  openapiRoute(app, ready, async (c) => {
    const [pg, redis] = await Promise.allSettled([within(cp.database.sql`select 1`, 2000), within(cp.redis.ping(), 2000)]);
    const down = [pg.status === 'rejected' ? 'postgres' : null, redis.status === 'rejected' ? 'redis' : null].filter(Boolean);
    if (down.length === 0) return c.json({ status: 'ready' as const, postgres: 'up' as const, redis: 'up' as const }, 200);
    const details = { postgres: pg.status === 'fulfilled' ? 'up' : 'down', redis: redis.status === 'fulfilled' ? 'up' : 'down' };
    // Answered, not thrown: a node that is not ready is expected news for a load balancer, not an error to log.
    return c.json(errorBody(new AppError(503, 'unavailable', `not ready: ${down.join(' and ')} not answering`, details)), 503);
  });
  return app;
}
