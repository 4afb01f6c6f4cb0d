import { createHash } from 'node:crypto';
import type { Keys, RedisClient } from '../redis.ts';

/**
 * Who holds an agent's presence key: `<generation>:<connection id>`. The generation is the
 * connection's creation order among the agent's connections (the gateway takes it from Redis when
 * the socket is upgraded: gateway/connection-generation.ts), so any node can tell which of two
 * connections of one agent is the newer one.
 */
export const presenceOwner = (generation: number, connectionId: string): string => `${generation}:${connectionId}`;

/**
 * Write an owner's presence unless a NEWER connection of the agent holds the key: one GET and one
 * SET, atomically. KEYS[1] the presence key; ARGV[1] the owner; ARGV[2] the TTL in ms. 1 if
 * written, 0 if a newer owner holds it. An owner without a generation (a node of the version
 * before, during a rolling upgrade) neither wins nor loses the comparison: written as before.
 *
 * LOUD: this is what keeps a reconnected agent online. Without it, a beat of its OLD connection
 * still batched on another node (which has not yet heard of the takeover) overwrote the new
 * connection's key, and the old connection's clear, moments later, deleted it: the agent read
 * offline (no dispatch, jobs waiting; past the grace, lost) until its next beat was flushed.
 */
const OWN_LUA = `local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  local heldGeneration = tonumber(string.match(held, '^(%d+):'))
  local generation = tonumber(string.match(ARGV[1], '^(%d+):'))
  if heldGeneration and generation and heldGeneration > generation then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const OWN_SHA = createHash('sha1').update(OWN_LUA).digest('hex');

/** Delete the key only if this owner still holds it. KEYS[1] the presence key; ARGV[1] the owner. */
const CLEAR_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const isNoScript = (err: Error | null | undefined): boolean => err?.message.startsWith('NOSCRIPT') === true;

/**
 * The writer of agent presence: the gateway of the API node holding the agent's socket. The key
 * names the connection that holds the agent (presenceOwner) and lives `ttlMs` (two heartbeat
 * intervals), refreshed by each heartbeat; an agent (or its API node) that goes away silently
 * reads `offline` once the key expires. Every write and every clear applies only while the writer's
 * connection is the newest one of the agent (OWN_LUA, CLEAR_LUA): several nodes may hold sockets of
 * one agent for a moment when it reconnects.
 *
 * Heartbeats are written in batches (`beat`): what arrived during one flush interval
 * (agentPresenceFlushMs, a fraction of the heartbeat) goes to Redis in one pipeline of EVALSHA,
 * not one command per beat: 10,000 agents are 1,000 beats a second. A key is then refreshed at
 * most heartbeat + flush interval after the previous write, well inside its TTL of two heartbeats
 * (timings.ts).
 */
export class AgentPresenceWriter {
  /** Agent id → the owner (connection) that beat since the last flush. */
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

  /**
   * At once (the handshake: `welcome` is sent only once the agent reads online). False when a
   * newer connection of the agent holds the key: this one must not be welcomed (agent-session.ts).
   * EVAL, not EVALSHA: one round trip whatever Redis' script cache holds (and it loads the script
   * for the flushes).
   */
  async mark(agentId: string, owner: string): Promise<boolean> {
    return (await this.redis.eval(OWN_LUA, 1, this.keys.agentPresence(agentId), owner, this.ttlMs)) === 1;
  }

  /** §5 A heartbeat: written with the next flush. Never rejects (a lost refresh is a late heartbeat). */
  beat(agentId: string, owner: string): void {
    if (this.timer === undefined) return void this.mark(agentId, owner).catch(() => {});
    this.pending.set(agentId, owner);
  }

  /**
   * Write the beats gathered so far: one pipeline on one node (Sentinel too); on a Cluster one
   * command per key, sent without waiting. Only after Redis lost its script cache (a restart, a
   * failover) do the beats it answered NOSCRIPT go again as EVAL: a second round trip, once.
   */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const beats = [...this.pending];
    this.pending = new Map();
    if (this.redis.isCluster) {
      // A Cluster pipeline must stay on one node; the keys hash all over: separate commands, each routed to its node.
      await Promise.all(
        beats.map(([id, owner]) =>
          this.redis
            .evalsha(OWN_SHA, 1, this.keys.agentPresence(id), owner, this.ttlMs)
            .catch((err: Error) => (isNoScript(err) ? this.redis.eval(OWN_LUA, 1, this.keys.agentPresence(id), owner, this.ttlMs) : undefined))
            .catch(() => {}),
        ),
      );
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const [id, owner] of beats) pipeline.evalsha(OWN_SHA, 1, this.keys.agentPresence(id), owner, this.ttlMs);
    const answers = await pipeline.exec().catch(() => null);
    const unloaded = beats.filter((_, i) => isNoScript(answers?.[i]?.[0]));
    if (unloaded.length === 0) return;
    const again = this.redis.pipeline();
    for (const [id, owner] of unloaded) again.eval(OWN_LUA, 1, this.keys.agentPresence(id), owner, this.ttlMs);
    await again.exec().catch(() => {});
  }

  /**
   * Remove the key only if this connection still owns it (a newer one may have taken over).
   * LOUD: a beat of this connection still waiting for the flush is dropped first, or the flush
   * would bring the key of a closed socket back for two heartbeats (an agent shown online, sent
   * jobs, while nobody holds it).
   */
  async clear(agentId: string, owner: string): Promise<void> {
    if (this.pending.get(agentId) === owner) this.pending.delete(agentId);
    await this.redis.eval(CLEAR_LUA, 1, this.keys.agentPresence(agentId), owner);
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
