import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, NetnsHosts, RedisNode, TestSystem, waitFor, type NetnsHost } from '@vmo/testkit';
import { openSql } from '../faults/fault-kit.ts';
import { FailoverLoad } from './failover-load.ts';

/**
 * Issue 19, Sentinel: the old master partitioned into a network namespace, not killed. The master
 * runs in a namespace of its own (netns-hosts.ts); its replica, three sentinels, the API and two
 * workers in the root namespace. Its link is set down mid-load: packets vanish, no connection is
 * closed, the master keeps running and keeps taking writes from its own side. Counts: every job
 * acknowledged before, during and after ends `succeeded` once with byte-identical output; a write
 * the old master took after the partition (split brain) is no job and is gone once it rejoins as
 * a replica; a job submitted after that completes. Times are printed for the README.
 */

const MASTER = 'vmo-ha';
const DATA_ARGS = ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'no'];

/** One command to the node at `host:port` (fresh connection, no retries). */
async function ask<T>(host: string, port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, host, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

describe('Redis Sentinel: the old master partitioned into a namespace, still running', () => {
  const hosts = new NetnsHosts();
  let m: NetnsHost;
  let masterPort: number;
  const nodes: RedisNode[] = [];
  let sentinels: RedisNode[] = [];
  let replica: RedisNode;
  let system: TestSystem;
  let load: FailoverLoad;

  const sentinelMaster = async () => {
    const [host, port] = (await sentinels[0]!.ask((r) => r.call('SENTINEL', 'get-master-addr-by-name', MASTER))) as [string, string];
    return { host, port: Number(port) };
  };

  beforeAll(async () => {
    m = hosts.addHost('m');
    masterPort = await freePort();
    hosts.spawnIn(m, 'redis-server', ['--port', String(masterPort), '--bind', m.address, ...DATA_ARGS], {});
    await waitFor('the master in its namespace', () => ask(m.address, masterPort, async (r) => (await r.ping()) === 'PONG').catch(() => false), 15_000, 50);
    const replicaPort = await freePort();
    // Announced on the root side of the master's link: the sentinels and clients reach it there
    // (a local address, also while the link is down), and so does the old master once it rejoins.
    replica = await RedisNode.start(replicaPort, ['--port', String(replicaPort), '--bind', '127.0.0.1', m.gateway, ...DATA_ARGS, '--replicaof', m.address, String(masterPort), '--replica-announce-ip', m.gateway]);
    nodes.push(replica);
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(hosts.tmpDir, `sentinel-${port}.conf`);
      writeFileSync(conf, [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${hosts.tmpDir}`,
        'sentinel announce-ip 127.0.0.1', // not the link address it reaches the master from
        `sentinel monitor ${MASTER} ${m.address} ${masterPort} 2`,
        `sentinel down-after-milliseconds ${MASTER} 1000`,
        `sentinel failover-timeout ${MASTER} 4000`,
        '',
      ].join('\n'));
      const sentinel = await RedisNode.start(port, [conf, '--sentinel']);
      nodes.push(sentinel);
      sentinels.push(sentinel);
    }
    await waitFor('the sentinels to know the replica and each other', async () => {
      const replicas = (await sentinels[0]!.ask((r) => r.call('SENTINEL', 'replicas', MASTER))) as unknown[];
      const others = (await sentinels[0]!.ask((r) => r.call('SENTINEL', 'sentinels', MASTER))) as unknown[];
      return replicas.length === 1 && others.length === 2;
    }, 30_000, 100);
    system = await TestSystem.start({
      label: 'ha_partition',
      workers: 2,
      env: { VMO_WORKER_CONCURRENCY: '4', VMO_MAINTENANCE_MS: '1000', VMO_REDIS_SENTINELS: sentinels.map((s) => s.address).join(','), VMO_REDIS_SENTINEL_NAME: MASTER },
    });
    load = new FailoverLoad(system);
  }, 150_000);
  afterAll(async () => {
    await system?.stop();
    await Promise.all(nodes.map((n) => n.kill()));
    hosts.stop(); // the old master and its namespace, whatever the test left
    load?.cleanup();
  });

  it('clients follow the new master; every acknowledged job ends once; the old side\'s writes are no jobs and vanish when it rejoins', async () => {
    onTestFailed(() => console.log(system.logs()));
    const prefix = system.env.VMO_REDIS_PREFIX!;
    await load.submit(20, 'before');
    await load.waitForSomeRunning();
    const cutAt = Date.now();
    hosts.partition(m);
    await load.submit(10, 'during');
    const promoted = await waitFor('the sentinels to promote the replica', async () => {
      const now = await sentinelMaster();
      if (now.host === m.address) return undefined;
      const role = (await ask(now.host, now.port, (r) => r.call('ROLE'))) as [string];
      return role[0] === 'master' ? now : undefined;
    }, 60_000, 100);
    const failoverMs = Date.now() - cutAt;
    expect(promoted.port).toBe(replica.port);
    // Split brain: the old master, alone on its side, still takes writes from a client there.
    const splitKey = `{${prefix}}:split-brain`;
    const tookIt = execFileSync('ip', ['netns', 'exec', m.netns, 'redis-cli', '-h', m.address, '-p', String(masterPort), 'SET', splitKey, 'old-side'], { encoding: 'utf8' }).trim();
    expect(tookIt).toBe('OK');
    execFileSync('ip', ['netns', 'exec', m.netns, 'redis-cli', '-h', m.address, '-p', String(masterPort), 'RPUSH', `{${prefix}}:jobs:wait`, 'job_splitbrain00000000'], { encoding: 'utf8' });
    await load.submit(5, 'after');
    const { succeeded } = await load.expectEveryJobOnce(120_000);
    const doneMs = Date.now() - cutAt;
    expect(succeeded).toBe(35);
    expect(load.refused).toBe(0);

    // The link comes back: the sentinels make the old master a replica of the new one, and its
    // own writes are gone with its data (a full resync).
    hosts.heal(m);
    const healedAt = Date.now();
    await waitFor('the old master to replicate the new one', async () => {
      const info = await ask(m.address, masterPort, (r) => r.info('replication')).catch(() => '');
      return /role:slave/.test(info) && /master_link_status:up/.test(info) || undefined;
    }, 60_000, 200);
    const rejoinMs = Date.now() - healedAt;
    expect(await ask(m.address, masterPort, (r) => r.exists(splitKey))).toBe(0);
    expect(await ask('127.0.0.1', replica.port, (r) => r.exists(splitKey))).toBe(0);
    const sql = openSql(system.databaseUrl);
    try {
      const [row] = await sql<{ count: number }[]>`select count(*)::int as count from jobs`;
      expect(row?.count).toBe(load.acknowledged.length); // nothing but the acknowledged jobs exists
    } finally {
      await sql.end();
    }
    // A job submitted after all of it completes.
    await load.submit(1, 'after');
    const { succeeded: total } = await load.expectEveryJobOnce(60_000);
    expect(total).toBe(36);
    console.log(`[ha sentinel partition] old master partitioned (link down, still running): new master after ${failoverMs} ms, all 35 jobs ended once ${doneMs} ms after the cut; the old side took a write (split brain), which was gone ${rejoinMs} ms after the link came back, when it replicated the new master; a job after that succeeded`);
  }, 240_000);
});
