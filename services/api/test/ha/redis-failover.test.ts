import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { RedisClusterSet, RedisSentinelSet, TestSystem } from '@vmo/testkit';
import { FailoverLoad } from './failover-load.ts';

/**
 * Issue 19, failure tests on real servers: the control plane (API + two workers, real processes)
 * on a Redis Sentinel set and on a Redis Cluster (testkit redis-ha.ts, loopback ports), the Redis
 * master that holds the queue killed -9 under load. Counts, not timings: every job acknowledged
 * before, during and after the fault ends `succeeded` in Postgres with byte-identical output,
 * none starts twice, and a job submitted after the failover runs. The times printed are for the
 * README, never asserted.
 */

/** Two workers of four slots: at the kill some jobs run, more wait in the queue. */
const ENV = { VMO_WORKER_CONCURRENCY: '4', VMO_MAINTENANCE_MS: '1000' };

describe('Redis Sentinel: the master killed -9 mid-load', () => {
  let set: RedisSentinelSet;
  let system: TestSystem;
  let load: FailoverLoad;

  beforeAll(async () => {
    set = await RedisSentinelSet.start({ replicas: 1 });
    system = await TestSystem.start({ label: 'ha_sentinel', workers: 2, env: { ...ENV, ...set.env } });
    load = new FailoverLoad(system);
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
    await set?.stop();
    load?.cleanup();
  });

  it('fails over; every acknowledged job ends once with its exact output; a job after the failover runs', async () => {
    onTestFailed(() => console.log(system.logs()));
    await load.submit(30, 'before');
    await load.waitForSomeRunning();
    const master = await set.master();
    const killedAt = Date.now();
    await master.kill();
    await load.submit(10, 'during');
    const promoted = await set.waitForNewMaster(master.port);
    const failoverMs = Date.now() - killedAt;
    await load.submit(5, 'after');
    const { succeeded } = await load.expectEveryJobOnce();
    const allDoneMs = Date.now() - killedAt;
    expect(promoted.port).not.toBe(master.port);
    expect(load.refused).toBe(0); // Postgres takes every submission; the queue is Redis' concern
    expect(succeeded).toBe(45);
    console.log(`[ha sentinel] master killed: new master after ${failoverMs} ms, all ${succeeded} jobs ended once ${allDoneMs} ms after the kill`);
  }, 180_000);
});

describe('Redis Cluster: the master owning the queue slot killed -9 mid-load', () => {
  let set: RedisClusterSet;
  let system: TestSystem;
  let load: FailoverLoad;

  beforeAll(async () => {
    set = await RedisClusterSet.start();
    system = await TestSystem.start({ label: 'ha_cluster', workers: 2, env: { ...ENV, ...set.env } });
    load = new FailoverLoad(system);
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
    await set?.stop();
    load?.cleanup();
  });

  it('fails over; every acknowledged job ends once with its exact output; a job after the failover runs', async () => {
    onTestFailed(() => console.log(system.logs()));
    const queueKey = `{${system.env.VMO_REDIS_PREFIX}}:jobs`;
    await load.submit(30, 'before');
    await load.waitForSomeRunning();
    const master = await set.masterOf(queueKey);
    const killedAt = Date.now();
    await master.kill();
    await load.submit(10, 'during');
    const promoted = await set.waitForFailover(queueKey, master.port);
    const failoverMs = Date.now() - killedAt;
    await load.submit(5, 'after');
    const { succeeded } = await load.expectEveryJobOnce();
    const allDoneMs = Date.now() - killedAt;
    expect(promoted.port).not.toBe(master.port);
    expect(load.refused).toBe(0);
    expect(succeeded).toBe(45);
    console.log(`[ha cluster] queue slot's master killed: slot served again after ${failoverMs} ms, all ${succeeded} jobs ended once ${allDoneMs} ms after the kill`);
  }, 180_000);
});
