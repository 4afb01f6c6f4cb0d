/**
 * Retention (issue 14): how long ended jobs, their output and the audit are kept. The words and
 * their bounds; the variables are the worker's (services/worker/src/env.ts), the deletion is
 * packages/shared/src/retention/.
 */

/** VMO_RETENTION_DAYS by default: ended jobs (with everything they own) and runs are kept this long. */
export const DEFAULT_RETENTION_DAYS = 30;
/** VMO_AUDIT_RETENTION_DAYS by default: a year of audit rows. 0 keeps them forever. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

/** A job's (or run's) own `retainDays`: 1 day to 10 years. */
export const MIN_RETAIN_DAYS = 1;
export const MAX_RETAIN_DAYS = 3650;

export const DAY_MS = 24 * 3600_000;

/** VMO_RETENTION_EVERY_MS by default: how often each worker's retention loop looks for what is due. */
export const DEFAULT_RETENTION_EVERY_MS = 60_000;
/** A pass stops after this long with work left (a first pass on a long history) and the next starts at once. */
export const RETENTION_PASS_BUDGET_MS = 20_000;
/** Between two statements of a pass: the log sink's inserts and VACUUM get the disk (bench/src/retention-measure.ts). */
export const RETENTION_PAUSE_MS = 10;

/**
 * The retention a worker applies, resolved from its variables. `null` means kept forever.
 * - `jobDays`: an ended job (its output, attempts, secrets) and an ended run whose children are gone.
 * - `outputDays`: only the output of a job on the defaults (the job row stays, `outputExpired`);
 *   never more than `jobDays`. A job with its own `retainDays` keeps its output as long as itself.
 * - `auditDays`: audit rows.
 * Settled schedule fires (the history GET /v1/schedules/{id} shows) are kept `jobDays`, like the jobs they fired.
 */
export interface RetentionPolicy {
  jobDays: number | null;
  outputDays: number | null;
  auditDays: number | null;
}

/** `now` minus `days` days (24 h each, whatever the time zone's daylight saving). */
export const daysBefore = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);
