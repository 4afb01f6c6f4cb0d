import type { Keys, RedisClient } from '../redis.ts';

/**
 * Is this agent connected to some API node? One key per agent in Redis, written by the node that
 * holds its socket (presence-writer.ts), living two heartbeats unless refreshed.
 *
 * - `online`: the key exists.
 * - `offline`: Redis answered and the key is gone (no heartbeat for two intervals, or never).
 * - `unknown`: Redis did not answer (unreachable, or no answer within PRESENCE_ANSWER_MS).
 *
 * THE RULE for `unknown`: it never leads to a verdict. Each caller does what needs no answer:
 *
 * | caller                                   | online         | offline                          | unknown                          |
 * |------------------------------------------|----------------|----------------------------------|----------------------------------|
 * | dispatch (worker process-job.ts)         | start the job  | wait; fail `agent_offline` past  | wait (the job stays `queued`, no |
 * |                                          |                | the dispatch timeout             | timeout verdict), look again     |
 * | waiting on a running job (executors/     | not gone;      | count towards the grace, then    | as online: not gone (no `lost`), |
 * | agent.ts)                                | dispatch       | `lost`                           | dispatch resent (fenced)         |
 * | janitor (janitor.ts)                     | not lost       | `lost` (past the grace)          | not lost                         |
 * | API view (agents/agent-service.ts)       | `online`       | `offline`                        | `offline` (the v1 contract knows |
 * |                                          |                |                                  | only these two)                  |
 *
 * So no job starts without a presence check that said `online`, and no job is declared lost or
 * failed on a presence nobody could read. A revoked agent is known from Postgres, not Redis:
 * dispatch ends its jobs whatever the presence says.
 */
export type Presence = 'online' | 'offline' | 'unknown';

/** An answer slower than this counts as no answer (a stalled connection must not stall a caller). */
export const PRESENCE_ANSWER_MS = 2000;

export interface PresenceDeps {
  redis: RedisClient;
  keys: Keys;
}

/** One agent's presence: one EXISTS. */
export async function agentPresence(cp: PresenceDeps, agentId: string): Promise<Presence> {
  try {
    return (await answerWithin(cp.redis.exists(cp.keys.agentPresence(agentId)))) === 1 ? 'online' : 'offline';
  } catch {
    return 'unknown';
  }
}

/**
 * Several agents' presence, in the order given: one EXISTS per agent, all sent at once.
 *
 * Not one MGET: the keys hash to different slots, and a Cluster refuses a multi-key command across
 * slots (CROSSSLOT); nor one pipeline, which ioredis' Cluster refuses unless every key lives on one
 * node. Separate commands are routed to each key's node by the client and written without waiting
 * for each other, so the cost stays about one round trip (per node) for a page of agents. The
 * alternative, hash-tagging every presence key into `{prefix}`, would put every agent's heartbeat
 * on the node that already carries the whole queue, and rename the keys under a rolling upgrade
 * (old writers, new readers: every agent `offline`).
 */
export async function agentsPresence(cp: PresenceDeps, agentIds: string[]): Promise<Presence[]> {
  if (agentIds.length === 0) return [];
  try {
    const found = await answerWithin(Promise.all(agentIds.map((id) => cp.redis.exists(cp.keys.agentPresence(id)))));
    return found.map((n) => (n === 1 ? 'online' : 'offline'));
  } catch {
    return agentIds.map(() => 'unknown');
  }
}

function answerWithin<T>(command: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${PRESENCE_ANSWER_MS} ms`)), PRESENCE_ANSWER_MS);
  });
  command.catch(() => {}); // settles after the deadline if Redis answers late: nobody is waiting then
  return Promise.race([command, deadline]).finally(() => clearTimeout(timer));
}
