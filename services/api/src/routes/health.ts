import { Hono } from 'hono';
import type { ControlPlane } from '@vmo/shared/jobs';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);

/** `/health`: the process is up. `/health/ready`: Postgres and Redis answer (503 naming which do not). */
export function healthRoutes(cp: ControlPlane) {
  return new Hono()
    .get('/', (c) => c.json({ status: 'ok' }))
    .get('/ready', async (c) => {
      const [pg, redis] = await Promise.allSettled([within(cp.database.sql`select 1`, 2000), within(cp.redis.ping(), 2000)]);
      const down = [pg.status === 'rejected' ? 'postgres' : null, redis.status === 'rejected' ? 'redis' : null].filter(Boolean);
      if (down.length === 0) return c.json({ status: 'ready', postgres: 'up', redis: 'up' });
      return c.json(
        { error: { code: 'unavailable', message: `not ready: ${down.join(' and ')} not answering`, details: { postgres: pg.status === 'fulfilled' ? 'up' : 'down', redis: redis.status === 'fulfilled' ? 'up' : 'down' } } },
        503,
      );
    });
}
