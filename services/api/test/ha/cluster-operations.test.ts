import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { followJobToEnd, RedisClusterSet, TestSystem, waitFor } from '@vmo/testkit';
import { keys } from '@vmo/shared/redis';
import { openSql, Scratch } from '../faults/fault-kit.ts';
import { gracefulFailover, nodeSubscribedTo, replicaOf, reshardSlotOf, waitForClusterOk } from './cluster-ops.ts';
import { FailoverLoad } from './failover-load.ts';

/**
 * Issue 19, Redis Cluster under what an operator does to it while vmo runs (real processes: two
 * API nodes, two workers, one agent; a cluster of three masters and three replicas on loopback):
 * a graceful `CLUSTER FAILOVER` of the queue's slot, the queue's slot resharded to another master
 * key by key, and the node a job stream's subscriber is on killed -9 mid-stream. Counts: every
 * job acknowledged before, during and after ends `succeeded` once with byte-identical output (jobs
 * on the workers and on the agent); the stream misses no byte and a cancel still lands; the agent
 * never shows `offline` and no job of it ends `lost`. Times are printed for the README, never asserted.
 */

const ENV = { VMO_WORKER_CONCURRENCY: '4', VMO_MAINTENANCE_MS: '1000' };

/** Polls the agent's status while a fault runs; `offline` would be a false alarm (it never left). */
class PresenceWatch {
  readonly seen = new Map<string, number>();
  private stopped = false;
  private readonly loop: Promise<void>;
  constructor(system: TestSystem, agentId: string) {
    this.loop = (async () => {
      while (!this.stopped) {
        const res = await system.client.request('GET', `/v1/agents/${agentId}`).catch(() => undefined);
        const status = res?.status === 200 ? String((res.body as { status: string }).status) : `http ${res?.status ?? 'error'}`;
        this.seen.set(status, (this.seen.get(status) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
  }
  async stop(): Promise<Record<string, number>> {
    this.stopped = true;
    await this.loop;
    return Object.fromEntries(this.seen);
  }
}

describe('Redis Cluster: failover, reshard and a subscriber node killed, under load', () => {
  let set: RedisClusterSet;
  let system: TestSystem;
  let agentId: string;
  let queueKey: string;
  const loads: FailoverLoad[] = [];

  beforeAll(async () => {
    set = await RedisClusterSet.start();
    system = await TestSystem.start({ label: 'ha_cluster_ops', apis: 2, workers: 2, env: { ...ENV, ...set.env } });
    agentId = (await system.startAgent('ha-cluster-agent', { servers: [system.apiUrls[0]!] })).id;
    queueKey = `{${system.env.VMO_REDIS_PREFIX}}:jobs`;
  }, 150_000);
  afterAll(async () => {
    await system?.stop();
    await set?.stop();
    for (const l of loads) l.cleanup();
  });

  const newLoads = () => {
    const local = new FailoverLoad(system);
    const agent = new FailoverLoad(system, { type: 'agent', agent: 'ha-cluster-agent' });
    loads.push(local, agent);
    return { local, agent, submit: (n: number, phase: 'before' | 'during' | 'after') => Promise.all([local.submit(n, phase), agent.submit(n, phase)]) };
  };

  /**
   * The agent is online, and none of its jobs (nor any other) ended `lost`. `offline` seen meanwhile
   * fails the test too, unless `mayBlink`: a master KILLED holding the agent's presence key comes
   * back (its replica promoted) after more than the key's TTL (two heartbeats, 1 s here), so a read
   * before the next heartbeat's write may find it gone; counted and printed, never `lost`.
   */
  const expectAgentStayedOnline = async (watch: PresenceWatch, label: string, mayBlink = false) => {
    const seen = await watch.stop();
    const res = await system.client.request('GET', `/v1/agents/${agentId}`);
    expect(res.body.status).toBe('online');
    if (!mayBlink) expect(seen.offline ?? 0, `${label}: agent statuses seen ${JSON.stringify(seen)}`).toBe(0);
    const sql = openSql(system.databaseUrl);
    try {
      expect((await sql`select id from jobs where status = 'lost'`).length).toBe(0);
    } finally {
      await sql.end();
    }
    return seen;
  };

  it('CLUSTER FAILOVER of the queue slot under load: every job ends once, exactly; the agent stays online', async () => {
    onTestFailed(() => console.log(system.logs()));
    const load = newLoads();
    const watch = new PresenceWatch(system, agentId);
    await load.submit(12, 'before');
    await load.local.waitForSomeRunning();
    const startedAt = Date.now();
    const failover = gracefulFailover(set, queueKey);
    await load.submit(5, 'during');
    const { from, to } = await failover;
    const failoverMs = Date.now() - startedAt;
    await load.submit(3, 'after');
    const a = await load.local.expectEveryJobOnce();
    const b = await load.agent.expectEveryJobOnce();
    const doneMs = Date.now() - startedAt;
    expect(a.succeeded + b.succeeded).toBe(40);
    expect(load.local.refused + load.agent.refused).toBe(0);
    expect((await set.masterOf(queueKey)).port).toBe(to.port);
    const seen = await expectAgentStayedOnline(watch, 'CLUSTER FAILOVER');
    console.log(`[ha cluster] CLUSTER FAILOVER ${from.address} -> ${to.address}: done in ${failoverMs} ms; all ${a.succeeded + b.succeeded} jobs ended once ${doneMs} ms after it began; agent statuses seen ${JSON.stringify(seen)}`);
  }, 180_000);

  it('the queue slot resharded to another master under load: every job ends once, exactly; the agent stays online', async () => {
    onTestFailed(() => console.log(system.logs()));
    const load = newLoads();
    const watch = new PresenceWatch(system, agentId);
    await load.submit(12, 'before');
    await load.local.waitForSomeRunning();
    const startedAt = Date.now();
    const reshard = reshardSlotOf(set, queueKey, { keysPerStep: 2, pauseMs: 100 });
    // Submitted while the slot is half moved: BullMQ's scripts meet ASK and TRYAGAIN.
    await load.submit(5, 'during');
    const moved = await reshard;
    await load.submit(3, 'after');
    const a = await load.local.expectEveryJobOnce();
    const b = await load.agent.expectEveryJobOnce();
    const doneMs = Date.now() - startedAt;
    expect(a.succeeded + b.succeeded).toBe(40);
    expect(load.local.refused + load.agent.refused).toBe(0);
    expect(moved.keysMoved).toBeGreaterThan(0);
    const seen = await expectAgentStayedOnline(watch, 'reshard');
    console.log(`[ha cluster] queue slot resharded ${moved.from.address} -> ${moved.to.address}: ${moved.keysMoved} keys in ${moved.ms} ms (replies of the old owner meanwhile: ${JSON.stringify(moved.redirections)}); all ${a.succeeded + b.succeeded} jobs ended once ${doneMs} ms after it began; agent statuses seen ${JSON.stringify(seen)}`);
  }, 180_000);

  it('the node a job stream subscribes on killed mid-stream: the stream fills its gap from Postgres, a cancel still lands, the agent stays online', async () => {
    onTestFailed(() => console.log(system.logs()));
    const scratch = new Scratch();
    const watch = new PresenceWatch(system, agentId);
    const k = keys(system.env.VMO_REDIS_PREFIX!);
    try {
      const runs = scratch.path('runs');
      // Output on the agent (connected to API 0), followed through API 1: every byte reaches the
      // follower over the bus, on API 1's subscriber connection.
      const res = await system.client.request('POST', '/v1/jobs', {
        command: `echo "$VMO_JOB_ID" >> '${runs}'; i=0; while :; do printf 'tick %06d\\n' $i; i=$((i+1)); sleep 0.02; done`,
        target: { type: 'agent', agent: 'ha-cluster-agent' },
      });
      expect(res.status).toBe(201);
      const jobId = (res.body as { id: string }).id;
      let ticks = 0;
      const follow = followJobToEnd(system.apiUrls[1]!, system.token, jobId, { onMessage: (m) => void (m.type === 'output' && ticks++) });
      await waitFor('the stream flowing', () => ticks > 20 || undefined, 60_000, 50);
      const streamNode = await nodeSubscribedTo(set, k.jobOutputChannel(jobId));
      const streamRole = ((await streamNode.ask((r) => r.call('ROLE'))) as [string])[0];
      const killedAt = Date.now();
      await streamNode.kill();
      const ticksAtKill = ticks;
      await waitFor('the stream flowing again', () => ticks > ticksAtKill + 20 || undefined, 60_000, 50);
      const resumedMs = Date.now() - killedAt;
      // Not only the stream's periodic catch-up from Postgres: API 1 subscribed again, on a live node.
      const resubscribedOn = await nodeSubscribedTo(set, k.jobOutputChannel(jobId));
      const resubscribedMs = Date.now() - killedAt;
      expect(resubscribedOn.port).not.toBe(streamNode.port);
      // The node comes back (as a replica if it was a master), and the cluster settles.
      await streamNode.launch();
      await waitForClusterOk(set, 60_000);
      // The cancel crosses the bus from API 1 to API 0 (which holds the agent); kill the node API
      // 0's subscriber is on too, unless it is the pair of the first (that would lose a shard).
      const agentNode = await nodeSubscribedTo(set, k.agentChannel(agentId));
      let secondKill = 'none';
      const pair = await replicaOf(set, agentNode).catch(() => undefined);
      if (agentNode.port !== streamNode.port && pair?.port !== streamNode.port) {
        secondKill = `${agentNode.address}, a ${((await agentNode.ask((r) => r.call('ROLE'))) as [string])[0]}`;
        await agentNode.kill();
        await waitFor('the stream flowing after the second kill', () => ticks > ticksAtKill + 60 || undefined, 60_000, 50);
        // API 0 listens for the agent's commands again (the cancel below travels there).
        expect((await nodeSubscribedTo(set, k.agentChannel(agentId))).port).not.toBe(agentNode.port);
      }
      const cancelAt = Date.now();
      const cancel = await system.clientFor(1).request('POST', `/v1/jobs/${jobId}/cancel`, {});
      expect(cancel.status).toBeLessThan(300);
      const result = await follow;
      const cancelMs = Date.now() - cancelAt;
      expect(result.end?.status).toBe('canceled');
      const stored = await system.client.logs(jobId, '?stream=stdout');
      expect(result.stdout.length).toBe(stored.length);
      expect(result.stdout.equals(stored)).toBe(true);
      // Dense: every tick from 0 on, none twice (the gap was filled, not skipped or repeated).
      const lines = stored.toString('latin1').split('\n').filter(Boolean);
      expect(lines.every((l, i) => l === `tick ${String(i).padStart(6, '0')}`)).toBe(true);
      expect(result.seqs).toEqual([...result.seqs].sort((x, y) => x - y));
      expect(new Set(result.seqs).size).toBe(result.seqs.length);
      expect(scratch.lines('runs')).toEqual([jobId]);
      for (const node of set.nodes) await node.launch();
      await waitForClusterOk(set, 60_000);
      const seen = await expectAgentStayedOnline(watch, 'subscriber node killed', true);
      console.log(`[ha cluster] subscriber node ${streamNode.address} (a ${streamRole}) killed mid-stream (then ${secondKill}): the stream flowed again ${resumedMs} ms after the kill, API 1 subscribed again on ${resubscribedOn.address} by ${resubscribedMs} ms (${result.interruptions.length} reconnects of the follower), ${lines.length} lines byte-identical, the cancel ended it in ${cancelMs} ms; agent statuses seen ${JSON.stringify(seen)}`);
    } finally {
      scratch.cleanup();
    }
  }, 240_000);
});
