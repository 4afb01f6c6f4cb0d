/**
 * Issue 19, Redis: the one connection factory (redis.ts) on a real Sentinel set and a real
 * Cluster (testkit redis-ha.ts), the start-up check (config/check-redis.ts) refusing a Redis that
 * evicts keys in each mode, presence read across slots, and the bus across cluster nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisClusterSet, RedisServer, RedisSentinelSet, waitFor } from '@vmo/testkit';
import { BusSubscriber } from '../src/bus/bus-subscriber.ts';
import { publishControl } from '../src/bus/publish.ts';
import { checkRedis } from '../src/config/check-redis.ts';
import { redisTargetOf } from '../src/config/redis-mode.ts';
import { StartFailure } from '../src/config/start-failure.ts';
import { agentsPresence, AgentPresenceWriter } from '../src/presence/index.ts';
import { createRedis, keys, type RedisClient } from '../src/redis.ts';

const failureOf = async (p: Promise<unknown>): Promise<StartFailure> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StartFailure);
  return err as StartFailure;
};

describe('one node', () => {
  let server: RedisServer;
  beforeAll(async () => (server = await RedisServer.start()));
  afterAll(async () => server?.stop());

  it('starts on noeviction, refuses any other maxmemory-policy in one line naming VMO_REDIS_URL', async () => {
    await checkRedis({ mode: 'single', url: server.url });
    const r = createRedis(server.url);
    try {
      await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const failure = await failureOf(checkRedis({ mode: 'single', url: server.url }));
      expect(failure.message).toBe('Redis has maxmemory-policy allkeys-lru: it may evict queue keys and lose or repeat jobs; set maxmemory-policy noeviction on it (VMO_REDIS_URL)');
      expect(failure.exitCode).toBe(78);
    } finally {
      await r.config('SET', 'maxmemory-policy', 'noeviction');
      r.disconnect();
    }
  });
});

describe('Sentinel', () => {
  let set: RedisSentinelSet;
  beforeAll(async () => (set = await RedisSentinelSet.start({ replicas: 1 })), 60_000);
  afterAll(async () => set?.stop());

  it('reaches the master through the sentinels, and refuses a master that evicts', async () => {
    const target = redisTargetOf(set.env);
    expect(target.mode).toBe('sentinel');
    await checkRedis(target);
    const redis = createRedis(target);
    try {
      await redis.set('vmo-ha-probe', 'x');
      expect(await (await set.master()).ask((r) => r.get('vmo-ha-probe'))).toBe('x');
      await redis.config('SET', 'maxmemory-policy', 'volatile-ttl');
      const failure = await failureOf(checkRedis(target));
      expect(failure.message).toMatch(/^Redis has maxmemory-policy volatile-ttl: .*\(VMO_REDIS_SENTINELS\)$/);
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
    } finally {
      redis.disconnect();
    }
  });

  it('no sentinel answering is one line naming VMO_REDIS_SENTINELS', async () => {
    const failure = await failureOf(checkRedis({ mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: 1 }], name: set.masterName }, 2000));
    expect(failure.message).toMatch(/VMO_REDIS_SENTINELS$/);
    expect(failure.message).not.toContain('\n');
  });
});

describe('Cluster', () => {
  let set: RedisClusterSet;
  let redis: RedisClient;
  beforeAll(async () => {
    set = await RedisClusterSet.start();
    redis = createRedis(redisTargetOf(set.env));
  }, 90_000);
  afterAll(async () => {
    redis?.disconnect();
    await set?.stop();
  });

  it('checks every master: one that evicts is refused by its address', async () => {
    const target = redisTargetOf(set.env);
    await checkRedis(target);
    const master = await set.masterOf('{vmo}');
    await master.ask((r) => r.config('SET', 'maxmemory-policy', 'allkeys-random'));
    try {
      const failure = await failureOf(checkRedis(target));
      expect(failure.message).toBe(`Redis (cluster master 127.0.0.1:${master.port}) has maxmemory-policy allkeys-random: it may evict queue keys and lose or repeat jobs; set maxmemory-policy noeviction on it (VMO_REDIS_CLUSTER_NODES)`);
    } finally {
      await master.ask((r) => r.config('SET', 'maxmemory-policy', 'noeviction'));
    }
  });

  it('reads the presence of agents whose keys live on different nodes (no CROSSSLOT)', async () => {
    const k = keys('presence-cluster');
    const ids = Array.from({ length: 40 }, (_, i) => `agt_c${i}`);
    const owners = new Set(await Promise.all(ids.map(async (id) => (await set.masterOf(k.agentPresence(id))).port)));
    expect(owners.size).toBeGreaterThan(1); // the case MGET fails on
    // Half marked at once, half by heartbeats written in one flush (one SET per key on a Cluster, not a pipeline).
    const writer = new AgentPresenceWriter(redis, k, 60_000, 3_600_000);
    await Promise.all(ids.filter((_, i) => i % 4 === 0).map((id) => writer.mark(id, 'conn')));
    for (const id of ids.filter((_, i) => i % 4 === 2)) writer.beat(id, 'conn');
    await writer.flush();
    writer.stop();
    expect(await agentsPresence({ redis, keys: k }, ids)).toEqual(ids.map((_, i) => (i % 2 === 0 ? 'online' : 'offline')));
    await expect(redis.mget(...ids.map((id) => k.agentPresence(id)))).rejects.toThrow(/CROSSSLOT/);
  });

  it('carries the bus between connections on different nodes (PUBLISH reaches every node)', async () => {
    const k = keys('bus-cluster');
    const bus = BusSubscriber.open(redisTargetOf(set.env), k);
    try {
      const heard: string[] = [];
      await bus.control((msg) => heard.push(msg.type === 'cancel' ? msg.jobId : msg.type));
      for (let i = 0; i < 5; i++) await publishControl({ redis, keys: k }, { type: 'cancel', jobId: `job_${i}`, graceMs: 1 });
      await waitFor('5 control messages', () => heard.length === 5, 10_000);
      // Every message, but not necessarily in order: each PUBLISH goes to some node and reaches the
      // subscriber's node over the cluster bus, so two publishes may cross (README, High
      // availability; consumers already treat a reordered message as a gap, BUS.md §7).
      expect([...heard].sort()).toEqual(['job_0', 'job_1', 'job_2', 'job_3', 'job_4']);
    } finally {
      bus.close();
    }
  });
});
