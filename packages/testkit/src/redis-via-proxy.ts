import { createRedis, type Redis } from '@vmo/shared/redis';
import { TcpProxy } from './tcp-proxy.ts';
import { TEST_REDIS_URL } from './test-redis.ts';

export interface RedisViaProxy {
  /** Cut, stall or restore this to make Redis unreachable for `redis` alone. */
  proxy: TcpProxy;
  /**
   * Like a service's command connection (no offline queue, so a command while Redis is away
   * fails instead of waiting), connected through `proxy`. Its connection errors are swallowed:
   * the test breaks the link on purpose.
   */
  redis: Redis;
  /** Lets connections through again and waits until `redis` is ready to answer. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A Redis connection that a test can take Redis away from, through a TCP proxy to the test Redis. */
export async function redisViaProxy(url = TEST_REDIS_URL): Promise<RedisViaProxy> {
  const target = new URL(url);
  const proxy = await TcpProxy.start(Number(target.port || 6379), target.hostname);
  const redis = createRedis(`redis://127.0.0.1:${proxy.port}`, { enableOfflineQueue: false });
  redis.on('error', () => {});
  return {
    proxy,
    redis,
    async restore() {
      proxy.restore();
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    },
    async close() {
      redis.disconnect();
      await proxy.close();
    },
  };
}
