import type { Keys, RedisClient } from '../redis.ts';

/**
 * The writer of agent presence: the gateway of the API node holding the agent's socket. The key
 * names the connection that holds the agent and lives `ttlMs` (two heartbeat intervals), refreshed
 * by each heartbeat; an agent (or its API node) that goes away silently reads `offline` once the
 * key expires.
 */
export class AgentPresenceWriter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  async mark(agentId: string, connectionId: string): Promise<void> {
    await this.redis.set(this.keys.agentPresence(agentId), connectionId, 'PX', this.ttlMs);
  }

  /** Remove the key only if this connection still owns it (a newer one may have taken over). */
  async clear(agentId: string, connectionId: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      this.keys.agentPresence(agentId),
      connectionId,
    );
  }
}

/** A revoked agent is offline at once, whichever connection held it (best effort: its key expires anyway). */
export async function forgetAgentPresence(cp: { redis: RedisClient; keys: Keys }, agentId: string): Promise<void> {
  await cp.redis.del(cp.keys.agentPresence(agentId)).catch(() => {});
}
