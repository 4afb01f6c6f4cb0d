import { Redis, type RedisOptions } from 'ioredis';

export { Redis };

/**
 * A Redis connection fit for BullMQ (which requires `maxRetriesPerRequest: null`) and for our
 * own commands. Reconnects forever with a capped backoff: a Redis restart must not end a process.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...options,
  });
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
  agentPresence: (agentId: string) => `${prefix}:agent:${agentId}:presence`,
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
