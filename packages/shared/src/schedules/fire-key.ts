import type { Idempotency } from '../jobs/idempotency.ts';
import type { FireKey } from './schedule-queries.ts';

/**
 * The Idempotency-Key a fire submits its job or run under: per schedule, per tick (or trigger).
 *
 * LOUD: this key is what makes a tick's job exist at most once even when two workers finish the
 * same fire (the one that claimed it died, or was only slow): submitJob and submitRun claim the
 * key IN THE SAME TRANSACTION as the job's (or run's) insert (jobs/insert-job-once.ts,
 * runs/insert-run.ts), so whichever comes second gets the first one's job back. The principal
 * `schedule:<id>` is no caller's (theirs are user and token ids), so no client key can collide.
 * Keys are kept 24 h (IDEMPOTENCY_TTL_HOURS); a fire still unfinished after an hour is given up
 * (complete-fire.ts), long before its key could expire.
 */
export function fireIdempotency(key: FireKey): Idempotency {
  return { principal: `schedule:${key.scheduleId}`, key: `${key.kind}:${key.at.toISOString()}` };
}
