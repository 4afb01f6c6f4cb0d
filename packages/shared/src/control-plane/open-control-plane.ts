import type { Logger } from 'pino';
import type { CommonConfig } from '../config/common.ts';
import { openDatabase } from '../db/client.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { createJobQueue } from '../queue/job-queue.ts';
import { redisTargetOf } from '../config/redis-mode.ts';
import { createRedis, keys, type RedisClient } from '../redis.ts';
import { SecretBox } from '../secrets/secret-box.ts';
import type { ControlPlane } from './control-plane.ts';

/** Migrate (under the advisory lock), then open the pools every control-plane process uses. */
export async function openControlPlane(config: CommonConfig, log: Logger, options: { dbPoolSize?: number } = {}): Promise<ControlPlane & { close(): Promise<void> }> {
  await migrateDatabase(config.VMO_DATABASE_URL);
  const database = openDatabase(config.VMO_DATABASE_URL, { max: options.dbPoolSize ?? 10 });
  // No offline queue: while Redis is away, commands fail at once instead of piling up in memory
  // (every output publish would otherwise wait there until the process ran out of it) and callers
  // answer 503 or carry on; pub/sub is best effort and Postgres holds the truth.
  const redis = createRedis(redisTargetOf(config), { enableOfflineQueue: false });
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  await readyWithin(redis, 30_000).catch(() => log.warn('redis is not reachable yet; starting anyway'));
  const k = keys(config.VMO_REDIS_PREFIX);
  const queue = createJobQueue(redis, k.bullPrefix);
  queue.on('error', () => {}); // surfaced through the redis connection's own error log
  return {
    database,
    redis,
    queue,
    keys: k,
    log,
    limits: {
      maxOutputBytes: config.VMO_MAX_OUTPUT_BYTES,
      tailBytes: config.VMO_OUTPUT_TAIL_BYTES,
      agentGraceMs: config.VMO_AGENT_GRACE_MS,
      heartbeatMs: config.VMO_HEARTBEAT_MS,
    },
    ...(config.VMO_SECRET_KEY ? { secretBox: SecretBox.fromHex(config.VMO_SECRET_KEY) } : {}),
    async close() {
      await queue.close().catch(() => {});
      redis.disconnect();
      await database.close();
    },
  };
}

function readyWithin(redis: RedisClient, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error('redis not ready'));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
