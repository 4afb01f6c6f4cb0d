/**
 * Agent presence (presence/) with Redis really reachable and really not (a TCP proxy cut or
 * stalled): `online`, `offline`, `unknown`, and the API view that shows `unknown` as `offline`.
 * What each caller does with `unknown` is tested where the caller lives (services/worker/test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPrefix, redisViaProxy, TEST_REDIS_URL, type RedisViaProxy, type TestDatabase } from '@vmo/testkit';
import { getAgent, listAgents, registerAgent } from '../src/agents/index.ts';
import type { ControlPlane } from '../src/control-plane/index.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { createLogger } from '../src/logger.ts';
import { agentPresence, agentsPresence, AgentPresenceWriter, PRESENCE_ANSWER_MS } from '../src/presence/index.ts';
import { createRedis, keys, type Keys, type Redis } from '../src/redis.ts';

let testDb: TestDatabase;
let database: Database;
let prefix: ReturnType<typeof createTestPrefix>;
let k: Keys;
let direct: Redis;
/** Like a service's command connection, through a proxy the tests cut and stall. */
let redisLink: RedisViaProxy;

beforeAll(async () => {
  testDb = await createTestDatabase('presence');
  database = openDatabase(testDb.url, { max: 2 });
  prefix = createTestPrefix('presence');
  k = keys(prefix.prefix);
  direct = createRedis(TEST_REDIS_URL);
  redisLink = await redisViaProxy();
});

afterAll(async () => {
  direct?.disconnect();
  await redisLink?.close();
  await database?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

const reachable = () => ({ redis: direct, keys: k });
const throughProxy = () => ({ redis: redisLink.redis, keys: k });
const controlPlane = () => ({ database, redis: redisLink.redis, keys: k, log: createLogger('presence-test', 'silent') }) as unknown as ControlPlane;

describe('agentPresence', () => {
  it('is online while the writer keeps the key, offline once it is cleared', async () => {
    const writer = new AgentPresenceWriter(direct, k, 60_000);
    await writer.mark('agt_p1', 'conn-1');
    expect(await agentPresence(reachable(), 'agt_p1')).toBe('online');
    expect(await agentsPresence(reachable(), ['agt_p1', 'agt_p2'])).toEqual(['online', 'offline']);
    await writer.clear('agt_p1', 'another-connection'); // not its owner: stays
    expect(await agentPresence(reachable(), 'agt_p1')).toBe('online');
    await writer.clear('agt_p1', 'conn-1');
    expect(await agentPresence(reachable(), 'agt_p1')).toBe('offline');
  });

  it('§5 heartbeats are written in batches: each refreshes its key at the next flush; a cleared connection\'s pending beat is dropped', async () => {
    // A flush interval far away: the test flushes by hand, so nothing here waits on a timer.
    const writer = new AgentPresenceWriter(direct, k, 60_000, 3_600_000);
    try {
      await writer.mark('agt_b1', 'conn-1');
      await writer.mark('agt_b2', 'conn-2');
      await direct.pexpire(k.agentPresence('agt_b1'), 1_000);
      writer.beat('agt_b1', 'conn-1');
      writer.beat('agt_b3', 'conn-3'); // beat of an agent whose key expired: back online
      writer.beat('agt_b2', 'conn-2');
      await writer.clear('agt_b2', 'conn-2'); // closed before the flush: must not come back
      expect(await direct.pttl(k.agentPresence('agt_b1'))).toBeLessThanOrEqual(1_000);
      await writer.flush();
      expect(await direct.pttl(k.agentPresence('agt_b1'))).toBeGreaterThan(50_000);
      expect(await agentsPresence(reachable(), ['agt_b1', 'agt_b2', 'agt_b3'])).toEqual(['online', 'offline', 'online']);
      expect(await direct.get(k.agentPresence('agt_b3'))).toBe('conn-3');
    } finally {
      writer.stop();
    }
  });

  it('is unknown, not offline, while Redis is unreachable (connections cut)', async () => {
    await new AgentPresenceWriter(direct, k, 60_000).mark('agt_p3', 'conn');
    await redisLink.restore();
    expect(await agentPresence(throughProxy(), 'agt_p3')).toBe('online');
    expect(await agentPresence(throughProxy(), 'agt_gone')).toBe('offline');
    redisLink.proxy.cut();
    try {
      expect(await agentPresence(throughProxy(), 'agt_p3')).toBe('unknown');
      expect(await agentPresence(throughProxy(), 'agt_gone')).toBe('unknown');
      expect(await agentsPresence(throughProxy(), ['agt_p3', 'agt_gone'])).toEqual(['unknown', 'unknown']);
    } finally {
      await redisLink.restore();
    }
    expect(await agentPresence(throughProxy(), 'agt_p3')).toBe('online');
  });

  it('is unknown when Redis does not answer (a stalled connection), within its deadline', async () => {
    await redisLink.restore();
    redisLink.proxy.stall();
    try {
      const started = Date.now();
      expect(await agentPresence(throughProxy(), 'agt_p3')).toBe('unknown');
      expect(Date.now() - started).toBeGreaterThanOrEqual(PRESENCE_ANSWER_MS - 50);
    } finally {
      redisLink.proxy.restore();
    }
  });
});

describe('the API view', () => {
  it('shows an agent whose presence is unknown as offline (the v1 contract has online|offline), answering rather than failing', async () => {
    await redisLink.restore();
    const cp = controlPlane();
    const agent = await registerAgent(cp, { name: 'presence-view', labels: {} });
    await new AgentPresenceWriter(direct, k, 60_000).mark(agent.id, 'conn');
    expect((await getAgent(cp, agent.id)).status).toBe('online');
    redisLink.proxy.cut();
    try {
      expect((await getAgent(cp, agent.id)).status).toBe('offline');
      expect((await listAgents(cp, { limit: 10 })).items.map((a) => a.status)).toEqual(['offline']);
    } finally {
      await redisLink.restore();
    }
  });
});
