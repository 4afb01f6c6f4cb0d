import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './config/redis-mode.ts';
import { REDIS_KEEPALIVE_MS, REDIS_SOCKET_TIMEOUT_MS } from './domain/timings.ts';

export { Cluster, Redis };
export type { RedisTarget };

/** A connection in any mode: one node or Sentinel (`Redis`), or Cluster (`Cluster`). Same commands. */
export type RedisClient = Redis | Cluster;

/** Capped backoff, forever: a Redis restart or failover must not end a process. */
const reconnectDelay = (times: number) => Math.min(times * 100, 2000);

/**
 * THE factory of every Redis connection a control-plane process opens (commands, the bus
 * subscriber, BullMQ's connections, the start-up check): the mode (one node, Sentinel, Cluster;
 * config/redis-mode.ts) is decided here and nowhere else. Fit for BullMQ (`maxRetriesPerRequest:
 * null`) and for our own commands; `options` are the per-connection ones (`enableOfflineQueue`,
 * `connectionName`, `retryStrategy`, `lazyConnect`…), applied to each node's connection.
 *
 * A plain URL string is one node (tests, tools).
 */
export function createRedis(target: string, options?: RedisOptions): Redis;
export function createRedis(target: RedisTarget, options?: RedisOptions): RedisClient;
export function createRedis(target: string | RedisTarget, options: RedisOptions = {}): RedisClient {
  const base: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: reconnectDelay,
    // LOUD: without these a path that black-holes packets (no RST: a partition, a lost NAT or
    // conntrack entry, a moved address) leaves every command waiting for TCP's own timeouts, hours:
    // a worker then holds its jobs and takes no new one. A command waiting this long for any byte
    // destroys the socket; ioredis reconnects and sends the waiting commands again (domain/timings.ts).
    socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
    keepAlive: REDIS_KEEPALIVE_MS,
    connectTimeout: 10_000,
  };
  if (typeof target === 'string' || target.mode === 'single') return new Redis(typeof target === 'string' ? target : target.url, { ...base, ...options });
  if (target.mode === 'sentinel') {
    return new Redis({
      ...base,
      sentinels: target.sentinels,
      name: target.name,
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
      // A master that hangs instead of dropping its connections is noticed too: ioredis listens
      // for the sentinels' +switch-master and reconnects to the new master at once.
      failoverDetector: true,
      // A master demoted under us answers writes with READONLY: reconnect (asking the sentinels
      // again) and resend, instead of failing every write until the connection happens to drop.
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      sentinelRetryStrategy: (times) => (options.retryStrategy ? options.retryStrategy(times) : Math.min(times * 100, 1000)),
      ...options,
    });
  }
  const { enableOfflineQueue, lazyConnect, retryStrategy, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    redisOptions: { ...base, ...nodeOptions, ...(target.password !== undefined ? { password: target.password } : {}) },
    clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) : reconnectDelay,
    enableReadyCheck: true,
    // A failover or a reshard answers MOVED/ASK and CLUSTERDOWN for a moment: follow and retry.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
  };
  return new Cluster(target.nodes, clusterOptions);
}

/** Key and channel names, all under the installation's prefix so installs and tests can share one Redis. */
export const keys = (prefix: string) => ({
  /** BullMQ prefix: the hash tag keeps every queue key in one Cluster slot. */
  bullPrefix: `{${prefix}}`,
  /** Bus channels (bus/BUS.md §1): a job's events, and apart from them its output. */
  jobEventChannel: (jobId: string) => `${prefix}:job:${jobId}:ev`,
  jobOutputChannel: (jobId: string) => `${prefix}:job:${jobId}:out`,
  agentChannel: (agentId: string) => `${prefix}:agent:${agentId}`,
  /** BUS.md §11: what an agent said about one shell session (SHELL.md §S5). */
  shellChannel: (sessionId: string) => `${prefix}:shell:${sessionId}`,
  /** BUS.md §12: a workspace operation's log lines and end (issue 18). */
  operationLogChannel: (operationId: string) => `${prefix}:wop:${operationId}:log`,
  agentPresence: (agentId: string) => `${prefix}:agent:${agentId}:presence`,
  /** The generation of the agent's newest connection (gateway/connection-generation.ts): which of two connections is the newer. */
  agentConnectionGeneration: (agentId: string) => `${prefix}:agent:${agentId}:generation`,
  /** The shell sessions alive on one agent or host, each scored by when it is gone at the latest (shells/live-shell-sessions.ts). */
  liveShells: (targetId: string) => `${prefix}:shells:${targetId}:live`,
  /** Set by each live API node while it may hold SSH hosts' shells; a node whose key is gone has its open host sessions ended (shells/host-shell-node.ts). */
  shellNodePresence: (nodeId: string) => `${prefix}:shells:node:${nodeId}:presence`,
  /** Set by each live worker; a running local job whose worker's key is gone is `lost`. */
  workerPresence: (workerId: string) => `${prefix}:worker:${workerId}:presence`,
  /** A rate limit's counter (API, http/rate-limit.ts): `scope` is what is counted (`submit`, `auth-fail`), `subject` whose (a principal, an address). */
  rateLimit: (scope: string, subject: string) => `${prefix}:rl:${scope}:${subject}`,
  /** Broadcast to every worker: stops of the jobs they run (bus/BUS.md §6). */
  controlChannel: `${prefix}:control`,
  /** Broadcast to every API node: what changed, for dashboards (bus/BUS.md §10). */
  changesChannel: `${prefix}:changes`,
});
export type Keys = ReturnType<typeof keys>;
