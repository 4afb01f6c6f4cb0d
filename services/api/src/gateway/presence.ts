import type { Redis } from 'ioredis';
import type { Keys } from '@vmo/shared/redis';

/**
 * Agent presence: a Redis key per agent naming the connection that holds it, with a TTL of two
 * heartbeat intervals, refreshed by each heartbeat. An agent (or its API node) that goes away
 * silently shows `offline` when the key expires.
 */
export class Presence {
  constructor(
    private readonly redis: Redis,
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
