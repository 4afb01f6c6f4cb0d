import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.VMO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis key prefix of its own for one test file; `cleanup` deletes every key under it. */
export function createTestPrefix(label = 'test'): { prefix: string; cleanup(): Promise<void> } {
  const prefix = `vmotest-${label}-${randomBytes(4).toString('hex')}`;
  return {
    prefix,
    async cleanup() {
      const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            if (keys.length) await redis.del(...keys);
          } while (cursor !== '0');
        }
      } finally {
        redis.disconnect();
      }
    },
  };
}
