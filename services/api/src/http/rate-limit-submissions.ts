import type { MiddlewareHandler } from 'hono';
import type { Keys } from '@vmo/shared/redis';
import type { AppError } from '@vmo/shared/errors';
import { principalKey, type AuthEnv, type Principal } from '../auth/principal.ts';
import { rateLimited, type Rate, type RateLimiter } from './rate-limit.ts';

/**
 * VMO_SUBMIT_RATE on POST /v1/jobs and POST /v1/runs (a run counts once, whatever its number of
 * targets), after the token check: per user (a user's tokens share one budget, so making more
 * tokens does not raise it; a proxy identity is its user), per token for the bootstrap admin. Every
 * submission counts, refused or replayed ones too. Past the limit: 429 `rate_limited` with
 * Retry-After, and nothing is created.
 */
export function limitSubmissions(limiter: RateLimiter, keys: Keys, rate: Rate): MiddlewareHandler<AuthEnv> {
  const count = countSubmission(limiter, keys, rate);
  return async function submissionRate(c, next) {
    const refusal = await count(c.get('principal'));
    if (refusal) {
      c.header('Retry-After', String(refusal.details!.retryAfterSeconds));
      throw refusal;
    }
    await next();
  };
}

/** Counts one submission of a principal against VMO_SUBMIT_RATE: the 429 to answer past it, else undefined. */
export type SubmissionCounter = (principal: Principal) => Promise<AppError | undefined>;

/**
 * The same count as limitSubmissions, for what submits outside a REST route: a new shell session
 * (its upgrade refuses before the 101; rejectUpgrade sends Retry-After from the error's details).
 */
export function countSubmission(limiter: RateLimiter, keys: Keys, rate: Rate): SubmissionCounter {
  return async (principal) => {
    const verdict = await limiter.hit(keys.rateLimit('submit', principalKey(principal)), rate);
    return verdict.allowed ? undefined : rateLimited(verdict.resetMs, `too many submissions for your credential (at most ${rate.limit} per ${rate.windowMs / 1000} s)`);
  };
}
