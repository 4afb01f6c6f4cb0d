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
 * - a terminal status → nothing, ever.
 *
 * Not here (yet): `running → queued`. No code hands a job back to the queue today (a worker that
 * shuts down leaves an agent job `running` for another worker to re-attach). Retries will add it,
 * as a transition that bumps the attempt, and only here.
 */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'canceled', 'timed_out', 'failed', 'skipped'],
  running: ['succeeded', 'failed', 'canceled', 'timed_out', 'lost'],
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
