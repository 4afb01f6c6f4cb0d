import type { Logger } from 'pino';
import type { JobStatus } from '../../domain/job-status.ts';
import type { JobRow } from '../job-view.ts';
import type { JobChangeKind, RunChildrenChangeKind } from './job-change.ts';

/** A transition that won: the job as written, and the statuses it moved between. */
export interface JobTransition {
  job: JobRow;
  from: JobStatus;
  to: JobStatus;
  /** The change that made it: one job's (`transition`) or a run's children's at once (`transitionRunChildren`). */
  kind: JobChangeKind | RunChildrenChangeKind;
}

export type TransitionObserver = (transition: JobTransition) => void | Promise<void>;

const observers = new Set<TransitionObserver>();

/**
 * Be told of every transition this process wins, once each, after it is written and its event
 * published (audit, metrics, a parent run's roll-up, retries plug in here, never by writing job
 * SQL of their own). Returns the function that removes the observer.
 *
 * An observer runs in the transition's path: what it awaits, every transition waits for. It
 * cannot undo the transition, and what it throws is logged and goes no further. A transition
 * whose answer Postgres lost (it landed, the caller saw an error) is not observed: an observer
 * that must see every one reads Postgres too.
 */
export function onTransition(observer: TransitionObserver): () => void {
  observers.add(observer);
  return () => void observers.delete(observer);
}

export async function notifyObservers(transition: JobTransition, log: Logger): Promise<void> {
  for (const observer of observers) {
    try {
      await observer(transition);
    } catch (err) {
      log.error({ err, jobId: transition.job.id, from: transition.from, to: transition.to }, 'a transition observer failed');
    }
  }
}
