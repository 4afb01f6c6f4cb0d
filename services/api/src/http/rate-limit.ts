import type { RedisClient } from '@vmo/shared/redis';
import { z } from 'zod';
import { AppError } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';

/** At most `limit` events per `windowMs`. */
export interface Rate {
  limit: number;
  windowMs: number;
}

export interface Verdict {
  allowed: boolean;
  /** When the window of this key ends (and with it any refusal), from now. */
  resetMs: number;
}

/**
 * A fixed-window counter in Redis, so a limit holds across API nodes: the first event of a key
 * starts its window (the key expires with it), every event adds one, and an event past `limit`
 * is refused until the key expires. One round trip: INCR and the expiry in one script.
 * A client may get up to 2 × limit through around a window's end; no more.
 */
const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;
const COMMAND = 'vmoRateLimitHit';
/** A Redis that does not answer within this does not hold requests up: the limiter lets them through. */
const REDIS_DEADLINE_MS = 1000;

export class RateLimiter {
  private failingOpen = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly log: Logger,
  ) {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: HIT });
  }

  /**
   * Count one event of `key` and say whether it is within `rate`.
   * LOUD: fails open. When Redis cannot be reached, every event is allowed (one warning per
   * outage, one line when limits are enforced again): refusing every submission and every login
   * because the limiter's store is down would turn a Redis blip into a full outage of the API.
   */
  async hit(key: string, rate: Rate): Promise<Verdict> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = (this.redis as unknown as Record<string, (key: string, windowMs: number) => Promise<[number, number]>>)[COMMAND]!(key, rate.windowMs);
      call.catch(() => {}); // past the deadline nobody awaits it
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the rate limiter got no answer from Redis in time')), REDIS_DEADLINE_MS);
      });
      const [count, ttl] = await Promise.race([call, deadline]);
      if (this.failingOpen) {
        this.failingOpen = false;
        this.log.info('rate limits are enforced again (Redis answers)');
      }
      return { allowed: count <= rate.limit, resetMs: Math.max(1, ttl) };
    } catch (err) {
      if (!this.failingOpen) {
        this.failingOpen = true;
        this.log.warn({ err: (err as Error).message }, 'rate limits are not enforced while Redis is unreachable: requests are let through');
      }
      return { allowed: true, resetMs: 0 };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** 429 `rate_limited`; `Retry-After` (whole seconds, at least 1) goes with it, and in details for clients that read only the body. */
export function rateLimited(resetMs: number, message: string): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil(resetMs / 1000));
  return new AppError(429, 'rate_limited', `${message}; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}

/** The `Retry-After` value of a `rate_limited` refusal, or undefined for any other error. */
export function retryAfterOf(err: AppError): string | undefined {
  const seconds = err.code === 'rate_limited' ? err.details?.retryAfterSeconds : undefined;
  return typeof seconds === 'number' ? String(seconds) : undefined;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const RATE = /^(\d+)\/(\d*)(ms|s|m|h)$/;

/**
 * A rate variable: `<count>/<window>`, the window a number (1 if left out) and a unit of ms, s, m
 * or h: `100/10s`, `20/1m`, `5/s`. `off` turns the limit off (parsed to null).
 */
export const rateVar = (def: string) =>
  z
    .string()
    .default(def)
    .transform((value, ctx): Rate | null => {
      const text = value.trim().toLowerCase();
      if (text === 'off') return null;
      const match = RATE.exec(text);
      const limit = Number(match?.[1]);
      const windowMs = Number(match?.[2] || 1) * UNIT_MS[(match?.[3] ?? 's') as keyof typeof UNIT_MS];
      if (!match || limit < 1 || limit > 1_000_000_000 || windowMs < 100 || windowMs > 24 * 3_600_000) {
        ctx.addIssue({ code: 'custom', message: 'must be <count>/<window> such as 100/10s or 20/1m (count ≥ 1; window 100ms to 24h in ms, s, m or h), or off' });
        return z.NEVER;
      }
      return { limit, windowMs };
    });
