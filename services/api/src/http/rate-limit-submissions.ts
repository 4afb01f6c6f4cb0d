import type { MiddlewareHandler } from 'hono';
import type { Keys } from '@vmo/shared/redis';
import { principalKey, type AuthEnv } from '../auth/principal.ts';
import { rateLimited, type Rate, type RateLimiter } from './rate-limit.ts';

/**
 * VMO_SUBMIT_RATE on POST /v1/jobs and POST /v1/runs (a run counts once, whatever its number of
 * targets), after the token check: per user (a user's tokens share one budget, so making more
 * tokens does not raise it; a proxy identity is its user), per token for the bootstrap admin. Every
 * submission counts, refused or replayed ones too. Past the limit: 429 `rate_limited` with
 * Retry-After, and nothing is created.
 */
export function limitSubmissions(limiter: RateLimiter, keys: Keys, rate: Rate): MiddlewareHandler<AuthEnv> {
  return async function submissionRate(c, next) {
    const verdict = await limiter.hit(keys.rateLimit('submit', principalKey(c.get('principal'))), rate);
    if (!verdict.allowed) {
      const refusal = rateLimited(verdict.resetMs, `too many submissions for your credential (at most ${rate.limit} per ${rate.windowMs / 1000} s)`);
      c.header('Retry-After', String(refusal.details!.retryAfterSeconds));
      throw refusal;
    }
    await next();
  };
}
