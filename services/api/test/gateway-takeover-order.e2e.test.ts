/**
 * PROTOCOL.md §1.4 and §6: of two connections of one agent, the NEWER one stays, whatever order
 * their handshakes finish in. An older connection the agent has given up on (half-open: its hello
 * was slow to arrive, or Postgres slow to record it) must not close the newer one with its late
 * takeover, nor take or delete its presence. Two real API nodes, Redis, Postgres; the agent's
 * sockets driven by hand (raw-agent-socket.ts) to get that ordering every time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, TEST_REDIS_URL } from '@vmo/testkit';
import { publishAgentCommand } from '@vmo/shared/bus';
import { createRedis, keys, type Redis } from '@vmo/shared/redis';
import { connectRawAgent, helloFrame } from './raw-agent-socket.ts';

describe('takeover follows the order connections were made (§1.4)', () => {
  let system: TestSystem;
  let redis: Redis;

  beforeAll(async () => {
    // The default heartbeat: the hand-driven sockets send none, and their presence must outlive the test.
    system = await TestSystem.start({ label: 'takeover_order', apis: 2, env: { VMO_HEARTBEAT_MS: '10000' } });
    redis = createRedis(TEST_REDIS_URL);
  }, 180_000);

  afterAll(async () => {
    redis?.disconnect();
    await system?.stop();
  });

  it('a late hello of an older connection on node A neither closes the newer connection on node B nor takes its presence', async () => {
    const res = await system.client.request('POST', '/v1/agents', { name: 'takeover-order' });
    expect(res.status).toBe(201);
    const { id: agentId, token } = res.body as { id: string; token: string };
    const bus = { redis, keys: keys(system.env.VMO_REDIS_PREFIX!) };

    // The older connection: upgraded on node A, its hello still on its way.
    const older = await connectRawAgent(system.apiUrls[0]!, token);
    // The agent gave up on it and connected again, to node B: welcomed there.
    const newer = await connectRawAgent(system.apiUrls[1]!, token);
    newer.send(helloFrame());
    await newer.frame('welcome');
    await system.waitForAgentStatus(agentId, 'online');

    // Now the older connection's hello arrives at node A.
    older.send(helloFrame());
    const olderClosed = await older.closed;
    expect(olderClosed.code).toBe(4409);
    // It was never welcomed: a newer connection of the agent already held it.
    expect(older.frames().map((f) => f.type)).not.toContain('welcome');

    // Whatever node A published for the older connection (its takeover) reached node B before this
    // command, which B forwards to the agent: once it arrives, B has acted on the takeover.
    await publishAgentCommand(bus, agentId, { type: 'cancel', jobId: 'job_takeoverprobe', graceMs: 1 });
    // LOUD: the newer connection is the agent's live one; closing it drops the agent.
    const cancel = await newer.frame('cancel', (f) => f['jobId'] === 'job_takeoverprobe');
    expect(cancel['graceMs']).toBe(1);
    expect(newer.ws.readyState).toBe(newer.ws.OPEN);
    // And the agent reads online: the older connection's teardown left the newer one's key alone.
    expect(await redis.exists(bus.keys.agentPresence(agentId))).toBe(1);
    expect((await system.client.request('GET', `/v1/agents/${agentId}`)).body.status).toBe('online');

    newer.ws.close(1000);
    await newer.closed;
    await system.waitForAgentStatus(agentId, 'offline');
  });
});
