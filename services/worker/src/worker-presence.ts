import type { RedisClient } from '@vmo/shared/redis';
import type { Keys } from '@vmo/shared/redis';

/**
 * A worker's presence key: set with a TTL (VMO_WORKER_PRESENCE_TTL_MS, default 15 s) and refreshed
 * every third of it. Jobs that run inside a worker (local, ssh) are declared `lost` only after its
 * key has been missing for two TTLs (lost-worker-sweep.ts). The numbers: domain/timings.ts.
 */
export async function markWorkerAlive(redis: RedisClient, keys: Keys, workerId: string, ttlMs: number): Promise<void> {
  await redis.set(keys.workerPresence(workerId), String(process.pid), 'PX', ttlMs);
}

export async function clearWorkerPresence(redis: RedisClient, keys: Keys, workerId: string): Promise<void> {
  await redis.del(keys.workerPresence(workerId));
}

export async function isWorkerAlive(redis: RedisClient, keys: Keys, workerId: string | null): Promise<boolean> {
  if (!workerId) return false;
  // If Redis itself is unreachable we cannot tell: assume alive rather than declare jobs lost.
  return (await redis.exists(keys.workerPresence(workerId)).catch(() => 1)) === 1;
}
