import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitFor } from './wait-for.ts';

/**
 * Redis Sentinel and Redis Cluster made of real `redis-server` processes on loopback ports, for
 * the failure tests of issue 19 (Debian's redis-server runs as a sentinel with `--sentinel`;
 * `redis-cli --cluster create` builds a cluster). Without persistence, in a temporary directory
 * removed by `stop()`. The shared Redis of the suite is never touched.
 */

/** One redis-server process (a data node or a sentinel); `kill()` is SIGKILL, as a crash. */
export class RedisNode {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  static async start(port: number, args: string[]): Promise<RedisNode> {
    const node = new RedisNode(port, args);
    await node.launch();
    return node;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.child !== undefined;
  }

  /** A short-lived connection to this node alone (no sentinel, no cluster redirection). */
  async ask<T>(ask: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    redis.on('error', () => {});
    try {
      await redis.connect();
      return await ask(redis);
    } finally {
      redis.disconnect();
    }
  }

  async launch(): Promise<void> {
    if (this.child) return;
    const child = spawn('redis-server', this.args, { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await waitFor(`redis-server on port ${this.port}`, () => this.ask(async (r) => (await r.ping()) === 'PONG').catch(() => false), 15_000, 50);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  }
}

// DEBUG SLEEP hangs a master (a test of failover while the old master neither answers nor drops connections).
const DATA_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'no', '--enable-debug-command', 'yes'];

/** A master, its replicas and three sentinels watching it (quorum 2), failing over within seconds. */
export class RedisSentinelSet {
  readonly masterName = 'vmo-ha';
  private constructor(
    private readonly dir: string,
    readonly dataNodes: RedisNode[],
    readonly sentinels: RedisNode[],
  ) {}

  static async start(opts: { replicas?: number; downAfterMs?: number; extraArgs?: string[] } = {}): Promise<RedisSentinelSet> {
    const dir = mkdtempSync(join(tmpdir(), 'vmo-sentinel-'));
    const set = new RedisSentinelSet(dir, [], []);
    try {
      const masterPort = await freePort();
      set.dataNodes.push(await RedisNode.start(masterPort, ['--port', String(masterPort), ...DATA_ARGS, ...(opts.extraArgs ?? [])]));
      for (let i = 0; i < (opts.replicas ?? 2); i++) {
        const port = await freePort();
        set.dataNodes.push(await RedisNode.start(port, ['--port', String(port), ...DATA_ARGS, '--replicaof', '127.0.0.1', String(masterPort), ...(opts.extraArgs ?? [])]));
      }
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = join(dir, `sentinel-${port}.conf`);
        // A sentinel rewrites its configuration file (what it learned): one writable file each.
        writeFileSync(conf, [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${set.masterName} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${set.masterName} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${set.masterName} 4000`,
          `sentinel parallel-syncs ${set.masterName} 1`,
          '',
        ].join('\n'));
        set.sentinels.push(await RedisNode.start(port, [conf, '--sentinel']));
      }
      await waitFor('the sentinels to know the replicas', async () => {
        const replicas = await set.sentinels[0]!.ask((r) => r.call('SENTINEL', 'replicas', set.masterName) as Promise<unknown[]>);
        return replicas.length === (opts.replicas ?? 2);
      }, 20_000, 100);
      return set;
    } catch (err) {
      await set.stop();
      throw err;
    }
  }

  /** `VMO_REDIS_SENTINELS` + `VMO_REDIS_SENTINEL_NAME` for this set. */
  get env(): Record<string, string> {
    return { VMO_REDIS_SENTINELS: this.sentinels.map((s) => s.address).join(','), VMO_REDIS_SENTINEL_NAME: this.masterName };
  }

  /** Bring back every killed data node; the sentinels make each a replica of the current master. */
  async reviveReplicas(timeoutMs = 30_000): Promise<void> {
    for (const node of this.dataNodes) await node.launch();
    await waitFor('every data node replicating the master again', async () => {
      const master = await this.master();
      const info = await master.ask((r) => r.info('replication'));
      return Number(/connected_slaves:(\d+)/.exec(info)?.[1]) === this.dataNodes.length - 1 && !/state=(wait_bgsave|send_bulk)/.test(info);
    }, timeoutMs, 100);
  }

  /** The master's port as the sentinels see it now. */
  async masterPort(): Promise<number> {
    const [, port] = (await this.sentinels.find((s) => s.alive)!.ask((r) => r.call('SENTINEL', 'get-master-addr-by-name', this.masterName))) as [string, string];
    return Number(port);
  }

  async master(): Promise<RedisNode> {
    const port = await this.masterPort();
    return this.dataNodes.find((n) => n.port === port)!;
  }

  /** Wait until the sentinels name a master other than `oldPort`, and it answers as a master. */
  async waitForNewMaster(oldPort: number, timeoutMs = 30_000): Promise<RedisNode> {
    return waitFor('a sentinel failover', async () => {
      const port = await this.masterPort();
      if (port === oldPort) return undefined;
      const node = this.dataNodes.find((n) => n.port === port)!;
      const role = (await node.ask((r) => r.call('ROLE'))) as [string];
      return role[0] === 'master' ? node : undefined;
    }, timeoutMs, 100);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.dataNodes].map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of `masters` masters with one replica each, failing over within seconds. */
export class RedisClusterSet {
  private constructor(
    private readonly dir: string,
    readonly nodes: RedisNode[],
  ) {}

  static async start(opts: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<RedisClusterSet> {
    const dir = mkdtempSync(join(tmpdir(), 'vmo-cluster-'));
    const set = new RedisClusterSet(dir, []);
    try {
      const count = (opts.masters ?? 3) * 2;
      for (let i = 0; i < count; i++) {
        const port = await freePort();
        const busPort = await freePort(); // explicit: port + 10000 may be taken or past 65535
        set.nodes.push(
          await RedisNode.start(port, [
            '--port', String(port), '--cluster-port', String(busPort), ...DATA_ARGS,
            '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir,
            '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1000),
            // A replica takes over however long ago it last heard its master: with a 1 s node
            // timeout the default validity (10 × timeout + the 10 s replica ping period) can judge a
            // replica on a loaded machine too stale, and then no failover ever comes (seen in a run).
            '--cluster-replica-validity-factor', '0',
          ]),
        );
      }
      const created = spawnSync('redis-cli', ['--cluster', 'create', ...set.nodes.map((n) => n.address), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      await waitFor('the cluster to be ok on every node', async () => {
        for (const node of set.nodes) {
          const info = await node.ask((r) => r.cluster('INFO'));
          if (!/cluster_state:ok/.test(info)) return false;
        }
        return true;
      }, 30_000, 100);
      return set;
    } catch (err) {
      await set.stop();
      throw err;
    }
  }

  get env(): Record<string, string> {
    return { VMO_REDIS_CLUSTER_NODES: this.nodes.filter((n) => n.alive).map((n) => n.address).join(',') };
  }

  /** The node serving `key`'s slot as a master now (asked of a live node). */
  async masterOf(key: string): Promise<RedisNode> {
    const live = this.nodes.find((n) => n.alive)!;
    const slot = await live.ask((r) => r.cluster('KEYSLOT', key));
    const slots = (await live.ask((r) => r.cluster('SLOTS'))) as unknown as [number, number, [string, number]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to)!;
    return this.nodes.find((n) => n.port === range[2][1])!;
  }

  /** Wait until `key`'s slot is served by a master other than `oldPort` and the cluster is ok again. */
  async waitForFailover(key: string, oldPort: number, timeoutMs = 60_000): Promise<RedisNode> {
    return waitFor('a cluster failover', async () => {
      const node = await this.masterOf(key);
      if (node.port === oldPort) return undefined;
      const info = await node.ask((r) => r.cluster('INFO'));
      return /cluster_state:ok/.test(info) ? node : undefined;
    }, timeoutMs, 100);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
