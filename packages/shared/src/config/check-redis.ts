import { Redis } from 'ioredis';
import { EX_CONFIG, EX_UNAVAILABLE, StartFailure, unreachable, whereOf } from './start-failure.ts';

/**
 * Redis answers at `url`, or a StartFailure naming VMO_REDIS_URL. Asked once before a start: the
 * control plane's own connection retries forever (a Redis restart must not end a process), so a
 * Redis that was never there would otherwise only show as warnings.
 */
export async function checkRedis(url: string, timeoutMs = 5_000): Promise<void> {
  const at = whereOf(url, 6379)!;
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  let failure: Error | undefined;
  redis.on('error', (err: Error) => (failure ??= err)); // the first cause; "Connection is closed" follows it
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    const cause = (failure ?? err) as Error & { code?: string };
    if (/^(NOAUTH|WRONGPASS)/.test(cause.message)) throw new StartFailure(`Redis at ${at.host}:${at.port} refused the password or user: set VMO_REDIS_URL (or VMO_REDIS_URL_FILE)`, EX_CONFIG);
    if (typeof cause.code === 'string') throw unreachable('Redis', 'VMO_REDIS_URL', at, cause.code);
    throw new StartFailure(`Redis at ${at.host}:${at.port} did not answer (${cause.message.slice(0, 200)}): check it is running and reachable from here, or set VMO_REDIS_URL`, EX_UNAVAILABLE);
  } finally {
    redis.disconnect();
  }
}
