import { publishJobEvent } from '../../bus/publish.ts';
import type { JobRow } from '../job-view.ts';
import { rowToJob } from '../row-to-job.ts';
import { edgesOfRunChildren, type RunChildrenChange } from './job-change.ts';
import { notifyObservers } from './observers.ts';
import { endQueuedRunChildren } from './sql/end-queued-run-children.ts';
import type { LifecycleDeps } from './transition.ts';
import { IllegalTransitionError, isAllowed } from './transitions.ts';

/** End events in flight at once: enough to fill Redis's pipeline, few enough not to hold 10,000 promises. */
const PUBLISH_BATCH = 500;

/**
 * `transition()` for the queued children of one run at once (a run of 10,000 targets whose
 * canary failed must not take 10,000 round trips to skip the rest). The same steps, in the same
 * order: checked against the table, one conditional UPDATE (sql/end-queued-run-children.ts), the
 * `end` event of every job it changed on the bus, then the observers told once per job.
 *
 * Returns the jobs as written (none: nothing was left to change). Throws what Postgres throws;
 * the statement is all or nothing, so a failed call changed no job and may simply be repeated.
 */
export async function transitionRunChildren(cp: LifecycleDeps, runId: string, change: RunChildrenChange): Promise<JobRow[]> {
  const { from, to } = edgesOfRunChildren(change);
  if (!isAllowed(from, to)) throw new IllegalTransitionError(from, to, change.kind);
  const rows = await endQueuedRunChildren(cp.database.sql, runId, change.kind === 'skip_queued' ? { status: 'skipped', error: change.error } : { status: 'canceled' });
  const jobs = rows.map(rowToJob);
  for (let i = 0; i < jobs.length; i += PUBLISH_BATCH) {
    await Promise.all(
      jobs.slice(i, i + PUBLISH_BATCH).map((job) => publishJobEvent(cp, job.id, { type: 'end', status: job.status, exitCode: job.exitCode, signal: job.signal })),
    );
  }
  for (const job of jobs) await notifyObservers({ job, from, to: job.status, kind: change.kind }, cp.log);
  return jobs;
}
