/**
 * PROTOCOL.md §5/§6: an agent's presence key belongs to its NEWEST connection, whatever the nodes
 * holding its older ones still have batched (gateway/agent-session.ts, presence/presence-writer.ts).
 * Two writers stand for two API nodes; real Redis; flushes by hand, so nothing waits on a timer.
 * Owners are `<generation>:<connection>` (presenceOwner): the generation is the connection's
 * creation order for its agent (gateway/connection-generation.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPrefix, RedisServer, TEST_REDIS_URL } from '@vmo/testkit';
import { agentPresence, AgentPresenceWriter } from '@vmo/shared/presence';
import { createRedis, keys, type Keys, type Redis } from '@vmo/shared/redis';

let prefix: ReturnType<typeof createTestPrefix>;
let k: Keys;
let redis: Redis;

beforeAll(() => {
  prefix = createTestPrefix('presence_owner');
  k = keys(prefix.prefix);
  redis = createRedis(TEST_REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await prefix?.cleanup();
});

/** A writer whose flush interval is far away: the test flushes by hand. */
const node = () => new AgentPresenceWriter(redis, k, 60_000, 3_600_000);

describe('presence on reconnect (§6)', () => {
  it('a batched beat of an older connection on another node neither takes the key from the newer one nor lets its clear delete it', async () => {
    const nodeA = node();
    const nodeB = node();
    try {
      const agent = 'agt_reconnect1';
      await nodeA.mark(agent, '1:conn-old');
      nodeA.beat(agent, '1:conn-old'); // waiting for node A's next flush
      // The agent reconnects to node B (its old socket on A is half-open, A does not know yet).
      await nodeB.mark(agent, '2:conn-new');
      await nodeA.flush(); // A's batch goes out before the takeover reaches A
      expect(await redis.get(k.agentPresence(agent))).toBe('2:conn-new');
      await nodeA.clear(agent, '1:conn-old'); // the takeover closes the old socket
      // LOUD: the newer connection is live: its agent must read online, not wait for its next beat.
      expect(await agentPresence({ redis, keys: k }, agent)).toBe('online');
      expect(await redis.get(k.agentPresence(agent))).toBe('2:conn-new');
      // The newer connection's own beats and clear still work.
      nodeB.beat(agent, '2:conn-new');
      await nodeB.flush();
      expect(await redis.pttl(k.agentPresence(agent))).toBeGreaterThan(50_000);
      await nodeB.clear(agent, '2:conn-new');
      expect(await agentPresence({ redis, keys: k }, agent)).toBe('offline');
    } finally {
      nodeA.stop();
      nodeB.stop();
    }
  });

  it('an older connection\'s handshake that reaches Redis after the newer one\'s does not take the key', async () => {
    const writer = node();
    try {
      const agent = 'agt_reconnect2';
      expect(await writer.mark(agent, '7:conn-new')).toBe(true);
      expect(await writer.mark(agent, '6:conn-old')).toBe(false);
      expect(await redis.get(k.agentPresence(agent))).toBe('7:conn-new');
      // Once the key is gone (the newer connection closed), an older live connection's beat brings it back.
      await writer.clear(agent, '7:conn-new');
      writer.beat(agent, '6:conn-old');
      await writer.flush();
      expect(await redis.get(k.agentPresence(agent))).toBe('6:conn-old');
    } finally {
      writer.stop();
    }
  });

  it('one flush writes many agents\' beats, each only where its connection is not older than the key\'s', async () => {
    const writer = node();
    try {
      const agents = Array.from({ length: 500 }, (_, i) => `agt_many${i}`);
      // Every other agent has a newer connection elsewhere.
      for (const [i, a] of agents.entries()) if (i % 2 === 0) await writer.mark(a, `9:conn-newer${i}`);
      for (const [i, a] of agents.entries()) writer.beat(a, `5:conn${i}`);
      await writer.flush();
      const held = await Promise.all(agents.map((a) => redis.get(k.agentPresence(a))));
      expect(held).toEqual(agents.map((_, i) => (i % 2 === 0 ? `9:conn-newer${i}` : `5:conn${i}`)));
    } finally {
      writer.stop();
    }
  });

  it('after a restart of Redis (its scripts forgotten with everything else), a flush still writes every beat', async () => {
    // A Redis of the test's own: the shared one is never restarted (redis-server.ts).
    const own = await RedisServer.start();
    const client = createRedis(own.url);
    client.on('error', () => {}); // refused while it restarts; ioredis reconnects
    const writer = new AgentPresenceWriter(client, k, 60_000, 3_600_000);
    try {
      writer.beat('agt_restart1', '3:conn-a');
      await writer.flush();
      expect(await client.get(k.agentPresence('agt_restart1'))).toBe('3:conn-a');
      await own.kill();
      await own.launch();
      writer.beat('agt_restart1', '3:conn-a');
      writer.beat('agt_restart2', '4:conn-b');
      await writer.flush();
      expect(await client.get(k.agentPresence('agt_restart1'))).toBe('3:conn-a');
      expect(await client.get(k.agentPresence('agt_restart2'))).toBe('4:conn-b');
    } finally {
      writer.stop();
      client.disconnect();
      await own.kill();
    }
  });
});
