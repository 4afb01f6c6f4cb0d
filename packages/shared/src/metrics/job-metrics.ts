import { isTerminal, type JobStatus } from '../domain/job-status.ts';
import { targetKindLabel } from './labels.ts';
import { jobDuration, jobQueueWait, jobsFinished, jobsSubmitted } from './vmo-metrics.ts';

/** The part of a won transition (jobs/lifecycle `JobTransition`) the metrics read; structural, as this layer is below jobs. */
export interface ObservedTransition {
  job: { target: { type: string } | null; createdAt: Date; startedAt: Date | null; finishedAt: Date | null };
  from: JobStatus;
  to: JobStatus;
}

/** Count jobs accepted (stored), e.g. by submitJob: `n` for a batch of one kind. */
export function countJobsSubmitted(targetType: string, n = 1): void {
  jobsSubmitted.inc({ target: targetKindLabel(targetType) }, n);
}

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

/** One won transition: queue wait when a job starts; finished count and run time when it ends. */
export function recordJobTransition({ job, to }: ObservedTransition): void {
  const target = targetKindLabel(job.target?.type);
  if (to === 'running') {
    jobQueueWait.observe({ target }, seconds(job.createdAt, job.startedAt ?? new Date()));
    return;
  }
  if (!isTerminal(to)) return;
  jobsFinished.inc({ target, status: to });
  // A job ended before it started (canceled or skipped while queued) has no run time.
  if (job.startedAt) jobDuration.observe({ target, status: to }, seconds(job.startedAt, job.finishedAt ?? new Date()));
}

/** jobs/lifecycle `onTransitionOnce`; structural, as this layer is below jobs. */
type OnTransitionOnce = (key: string, observer: (t: ObservedTransition) => void) => () => void;

/**
 * Observe every transition this process wins (pass jobs/lifecycle `onTransitionOnce`). LOUD: once
 * per process however many services ask (`npm start` runs the API and the worker in one):
 * observed twice, every job would count twice. Returns the stop; the observer goes when the last
 * user stops.
 */
export function countJobTransitions(onTransitionOnce: OnTransitionOnce): () => void {
  return onTransitionOnce('metrics', recordJobTransition);
}
