import type { Cluster } from 'ioredis';
import { createRedis, type RedisClient } from '../redis.ts';
import { DEFAULT_REDIS_URL, redisVariableOf, type RedisTarget } from './redis-mode.ts';
import { EX_CONFIG, EX_UNAVAILABLE, StartFailure, unreachable, whereOf } from './start-failure.ts';

/**
 * Redis answers where the configuration says (one node, the sentinels' master, every master of a
 * cluster) and never evicts keys, or a StartFailure naming the variable to change. Asked once
 * before a start: the control plane's own connections retry forever (a Redis restart must not end
 * a process), so a Redis that was never there would otherwise only show as warnings.
 *
 * LOUD: a Redis that evicts (any `maxmemory-policy` but `noeviction`) drops BullMQ's keys under
 * memory pressure: queued jobs vanish from the queue and locks disappear (a job then runs twice).
 * The reconciler would re-add the first kind from Postgres, but nothing fences the second, so a
 * start refuses it outright.
 */
export async function checkRedis(target: RedisTarget | string, timeoutMs = 5_000): Promise<void> {
  const t: RedisTarget = typeof target === 'string' ? { mode: 'single', url: target } : target;
  const variable = redisVariableOf(t);
  const at = whereOfTarget(t);
  const redis = createRedis(t, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: t.mode === 'cluster', // a cluster queues the first commands until it knows its slots
    enableReadyCheck: false,
    ...(t.mode === 'sentinel' ? { failoverDetector: false } : {}),
  });
  let failure: Error | undefined;
  redis.on('error', (err: Error) => (failure ??= err)); // the first cause; "Connection is closed" follows it
  try {
    const masters = await within(timeoutMs, connectMasters(redis));
    for (const master of masters) {
      const policy = /maxmemory_policy:(\S+)/.exec(await within(timeoutMs, master.info('memory')))?.[1];
      if (policy !== undefined && policy !== 'noeviction') {
        const where = t.mode === 'cluster' ? ` (cluster master ${master.options.host}:${master.options.port})` : '';
        throw new StartFailure(`Redis${where} has maxmemory-policy ${policy}: it may evict queue keys and lose or repeat jobs; set maxmemory-policy noeviction on it (${variable})`, EX_CONFIG);
      }
    }
  } catch (err) {
    if (err instanceof StartFailure) throw err;
    const cause = (failure ?? err) as Error & { code?: string };
    if (/^(NOAUTH|WRONGPASS)/.test(cause.message)) throw new StartFailure(`Redis at ${at.host}:${at.port} refused the password or user: set ${t.mode === 'single' ? 'VMO_REDIS_URL (or VMO_REDIS_URL_FILE)' : 'VMO_REDIS_PASSWORD (or VMO_REDIS_PASSWORD_FILE)'}`, EX_CONFIG);
    if (/All sentinels are unreachable/.test(cause.message)) throw new StartFailure(`no sentinel of ${describe(t)} answered: check they are running and reachable from here, or set VMO_REDIS_SENTINELS`, EX_UNAVAILABLE);
    if (typeof cause.code === 'string') throw unreachable('Redis', variable, at, cause.code);
    // LOUD: ioredis' messages name hosts and ports, never passwords; cut anyway.
    throw new StartFailure(`Redis ${describe(t)} did not answer (${cause.message.slice(0, 200)}): check it is running and reachable from here, or set ${variable}`, EX_UNAVAILABLE);
  } finally {
    redis.disconnect();
  }
}

/** Connect, and the connections to every master: the one node (or the sentinels' master), or each cluster master. */
async function connectMasters(redis: RedisClient): Promise<{ info(section: string): Promise<string>; options: { host?: string; port?: number } }[]> {
  await redis.connect();
  if (!isCluster(redis)) {
    await redis.ping();
    return [redis];
  }
  await redis.ping(); // the slots are known once a command went through
  return redis.nodes('master');
}

const isCluster = (redis: RedisClient): redis is Cluster => (redis as { isCluster?: boolean }).isCluster === true;

function whereOfTarget(t: RedisTarget): { host: string; port: number; user: string; database: string } {
  if (t.mode === 'single') return whereOf(t.url, 6379) ?? whereOf(DEFAULT_REDIS_URL, 6379)!;
  const first = t.mode === 'sentinel' ? t.sentinels[0]! : t.nodes[0]!;
  return { host: first.host, port: first.port, user: '', database: '' };
}

function describe(t: RedisTarget): string {
  if (t.mode === 'single') {
    const at = whereOfTarget(t);
    return `at ${at.host}:${at.port}`;
  }
  if (t.mode === 'sentinel') return `master "${t.name}" (sentinels ${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')})`;
  return `cluster (nodes ${t.nodes.map((s) => `${s.host}:${s.port}`).join(',')})`;
}

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
