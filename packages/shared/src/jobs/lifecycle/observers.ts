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

/** The observers registered through onTransitionOnce, by key: the first still registered is the one told. */
const onceByKey = new Map<string, { observers: TransitionObserver[]; remove: () => void }>();

/**
 * Observe every transition once per process under `key`, however many services register it
 * (`npm start` runs the API and the worker in one process, and a test may start several workers):
 * observed twice, every job would be counted or logged twice. LOUD: one observer per key is told,
 * the earliest still registered (so a stopped worker's logger is not kept while another runs);
 * the returned disposer (idempotent) unregisters this one, and the key's observer goes with the last.
 */
export function onTransitionOnce(key: string, observer: TransitionObserver): () => void {
  let entry = onceByKey.get(key);
  if (!entry) {
    const observers: TransitionObserver[] = [];
    entry = { observers, remove: onTransition((t) => observers[0]?.(t)) };
    onceByKey.set(key, entry);
  }
  const own = entry;
  // A wrapper of its own: the same function registered twice is two users.
  const registration: TransitionObserver = (t) => observer(t);
  own.observers.push(registration);
  return () => {
    const at = own.observers.indexOf(registration);
    if (at === -1) return;
    own.observers.splice(at, 1);
    if (own.observers.length === 0 && onceByKey.get(key) === own) {
      own.remove();
      onceByKey.delete(key);
    }
  };
}
