/*
 * `runAt` and `priority` of jobs and runs (issue 14): the words and their bounds, shared by the
 * input schemas, the queue and the release loop.
 */

/** The lowest priority a job or run may have. */
export const MIN_PRIORITY = 1;
/** The highest: starts before everything else waiting for the same workers or target. */
export const MAX_PRIORITY = 10;
/** What a job or run gets when it names none. */
export const DEFAULT_PRIORITY = 5;

/**
 * vmo's priority (1–10, higher first) as BullMQ's (lower first; 0 would mean "no priority", which
 * BullMQ serves BEFORE every prioritized job, so it is never used): 10 → 1, 5 → 6, 1 → 10.
 *
 * LOUD: every job added to the queue carries one (queue/job-queue.ts jobQueueEntry). An entry
 * added without a priority would jump ahead of every job that has one, whatever its priority.
 */
export function bullPriority(priority: number): number {
  return MAX_PRIORITY + 1 - priority;
}

/** How far ahead `runAt` may be: a year. Further is a 400 naming `runAt` (most likely a typo in the year). */
export const MAX_RUN_AT_AHEAD_MS = 366 * 24 * 3_600_000;

/**
 * How often each worker releases the jobs whose `runAt` has come and rolls up the runs whose
 * `runAt` has come (jobs/run-at, runs/release-due-runs.ts): a job with a `runAt` starts at most
 * about this long after it (plus the queue's own latency).
 */
export const RELEASE_DUE_EVERY_MS = 500;
