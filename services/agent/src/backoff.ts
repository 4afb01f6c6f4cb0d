/**
 * Reconnect delays: exponential with full jitter (PROTOCOL.md §6). The n-th consecutive failure
 * waits a uniformly random time in [0, min(cap, base · 2^n)], so a fleet of agents that lost the
 * same API node does not come back in lockstep. `reset()` after a successful `welcome`.
 */
export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** Injected in tests; returns a number in [0, 1). */
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor({ baseMs = 500, capMs = 30_000, random = Math.random }: BackoffOptions = {}) {
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.random = random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  nextDelayMs(): number {
    // Cap the exponent too, so a long outage cannot overflow to Infinity.
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.failures = 0;
  }
}
