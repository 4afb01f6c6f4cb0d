import type { Keys, RedisClient } from '../redis.ts';

/**
 * The writer of agent presence: the gateway of the API node holding the agent's socket. The key
 * names the connection that holds the agent and lives `ttlMs` (two heartbeat intervals), refreshed
 * by each heartbeat; an agent (or its API node) that goes away silently reads `offline` once the
 * key expires.
 *
 * Heartbeats are written in batches (`beat`): what arrived during one flush interval
 * (agentPresenceFlushMs, a fraction of the heartbeat) goes to Redis in one pipeline, not one SET
 * per beat: 10,000 agents are 1,000 beats a second. A key is then refreshed at most heartbeat +
 * flush interval after the previous write, well inside its TTL of two heartbeats (timings.ts).
 */
export class AgentPresenceWriter {
  /** Agent id → the connection that beat since the last flush. */
  private pending = new Map<string, string>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
    /** How often beats are written; 0 writes each beat at once. */
    flushMs = 0,
  ) {
    if (flushMs > 0) {
      this.timer = setInterval(() => void this.flush(), flushMs);
      this.timer.unref();
    }
  }

  /** At once (the handshake: `welcome` is sent only once the agent reads online). */
  async mark(agentId: string, connectionId: string): Promise<void> {
    await this.redis.set(this.keys.agentPresence(agentId), connectionId, 'PX', this.ttlMs);
  }

  /** §5 A heartbeat: written with the next flush. Never rejects (a lost refresh is a late heartbeat). */
  beat(agentId: string, connectionId: string): void {
    if (this.timer === undefined) return void this.mark(agentId, connectionId).catch(() => {});
    this.pending.set(agentId, connectionId);
  }

  /** Write the beats gathered so far: one pipeline on one node (Sentinel too); on a Cluster one SET per key, sent without waiting. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const beats = this.pending;
    this.pending = new Map();
    if (this.redis.isCluster) {
      // A Cluster pipeline must stay on one node; the keys hash all over: separate commands, each routed to its node.
      await Promise.all([...beats].map(([id, conn]) => this.redis.set(this.keys.agentPresence(id), conn, 'PX', this.ttlMs).catch(() => {})));
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const [id, conn] of beats) pipeline.set(this.keys.agentPresence(id), conn, 'PX', this.ttlMs);
    await pipeline.exec().catch(() => {});
  }

  /**
   * Remove the key only if this connection still owns it (a newer one may have taken over).
   * LOUD: a beat of this connection still waiting for the flush is dropped first, or the flush
   * would bring the key of a closed socket back for two heartbeats (an agent shown online, sent
   * jobs, while nobody holds it).
   */
  async clear(agentId: string, connectionId: string): Promise<void> {
    if (this.pending.get(agentId) === connectionId) this.pending.delete(agentId);
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      this.keys.agentPresence(agentId),
      connectionId,
    );
  }

  /** Stop flushing (the gateway is closing; its sessions clear their keys). */
  stop(): void {
    clearInterval(this.timer);
    this.pending.clear();
  }
}

/** A revoked agent is offline at once, whichever connection held it (best effort: its key expires anyway). */
export async function forgetAgentPresence(cp: { redis: RedisClient; keys: Keys }, agentId: string): Promise<void> {
  await cp.redis.del(cp.keys.agentPresence(agentId)).catch(() => {});
}
