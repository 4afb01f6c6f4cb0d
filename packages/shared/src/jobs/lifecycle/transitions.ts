import type { JobStatus } from '../../domain/job-status.ts';

/**
 * Every status change a job may make: the whole lifecycle on one screen.
 *
 * - `queued → running`: a worker starts it (fenced: only from `queued`, attempt bumped).
 * - `queued → canceled | timed_out`: stopped before it started (it never runs); a canceled run
 *   ends all its queued children so at once (`cancel_queued`, transition-run-children.ts).
 * - `queued → failed`: it cannot start: its agent stayed offline past the dispatch timeout, or
 *   was revoked.
 * - `queued → skipped`: a run's child its run will not start: the run's roll-up skips every
 *   child still `queued` (held or released) once the error budget is spent or a canary failed
 *   (`skip_queued`, one statement for all of them), or a worker finds its agent offline under
 *   `offline: "skip"`.
 * - `running → succeeded | failed | canceled | timed_out | lost`: it ended, once, fenced by attempt.
 * - `running → queued` (`retry`, issue 14): the attempt would have ended `failed`, `timed_out` or
 *   `lost` and the job's retry policy wants another: the attempt goes on record (job_attempts),
 *   the job waits `queued` (held, with `retry_at`) for the next one, which the start numbers
 *   attempt + 1. Taken by the one writer itself when an `exit` or `end` meets the policy
 *   (lifecycle/retry.ts), never asked for by a caller; never for a job whose cancel is recorded.
 * - `queued → queued` (`retry`): the same for an attempt that never started because its agent
 *   stayed offline past the dispatch timeout (`on.agentOffline`); the attempt is used up (the
 *   job's attempt is bumped), so the next start is a later one.
 * - a terminal status → nothing, ever. A retry is decided before the end is written, so a job
 *   that shows a terminal status stays there.
 *
 * A worker that shuts down still leaves an agent job `running` for another worker to re-attach:
 * the only way back to `queued` is a retry.
 */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'canceled', 'timed_out', 'failed', 'skipped', 'queued'],
  running: ['succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'queued'],
  succeeded: [],
  failed: [],
  canceled: [],
  timed_out: [],
  lost: [],
  skipped: [],
};

export const isAllowed = (from: JobStatus, to: JobStatus): boolean => TRANSITIONS[from].includes(to);

/**
 * A transition the table does not allow was asked for: a bug in the caller, refused before
 * anything is written.
 */
export class IllegalTransitionError extends Error {
  readonly code = 'illegal_transition';
  constructor(
    readonly from: JobStatus,
    readonly to: JobStatus,
    readonly change: string,
  ) {
    super(`a job may not go from ${from} to ${to} (${change}); see jobs/lifecycle/transitions.ts`);
    this.name = 'IllegalTransitionError';
  }
}
