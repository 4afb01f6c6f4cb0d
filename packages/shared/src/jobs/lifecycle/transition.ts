import type { Row } from 'postgres';
import { publishJobEvent } from '../../bus/publish.ts';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { isTerminal } from '../../domain/job-status.ts';
import type { JobRow } from '../job-view.ts';
import { rowToJob } from '../row-to-job.ts';
import { edgesOf, type JobChange } from './job-change.ts';
import { notifyObservers, type JobTransition } from './observers.ts';
import { endJob } from './sql/end-job.ts';
import { endUnacceptedJob } from './sql/end-unaccepted-job.ts';
import { recordExit } from './sql/record-exit.ts';
import { startJob } from './sql/start-job.ts';
import { stopQueuedJob } from './sql/stop-queued-job.ts';
import { IllegalTransitionError, isAllowed } from './transitions.ts';

export type LifecycleDeps = Pick<ControlPlane, 'database' | 'redis' | 'keys' | 'log'>;

/**
 * The one writer of `jobs.status`. In order:
 *
 * 1. the change is checked against the table (transitions.ts): one it does not allow throws
 *    IllegalTransitionError and nothing is written;
 * 2. one conditional UPDATE (sql/), matching only the status the change moves from and, where the
 *    change carries one, only its attempt: of concurrent writers exactly one wins;
 * 3. the event goes on the bus (BUS.md §3): `status` for `running`, `end` for a terminal status;
 * 4. the observers (observers.ts) are told.
 *
 * Returns the job as written, or undefined when it lost (the job was no longer in that status or
 * attempt: another writer won, or the fence did not match). Throws what Postgres throws.
 *
 * LOUD: a terminal change must come after every output chunk of the job is durable; subscribers
 * treat `end` as "the log in Postgres is complete".
 */
export async function transition(cp: LifecycleDeps, jobId: string, change: JobChange): Promise<JobRow | undefined> {
  const { from, to } = edgesOf(change);
  for (const status of to) if (!isAllowed(from, status)) throw new IllegalTransitionError(from, status, change.kind);
  const row = await write(cp, jobId, change);
  if (!row) return undefined;
  const job = rowToJob(row);
  if (!to.includes(job.status)) {
    // Only `exit` and `end_unaccepted` take the status from a column (cancel_reason), which only
    // typed writers set: reaching this is a bug, and the row is already written.
    cp.log.error({ jobId, from, to: job.status, change: change.kind }, 'a transition wrote a status its change does not allow');
  }
  await announce(cp, { job, from, to: job.status, kind: change.kind });
  return job;
}

function write(cp: LifecycleDeps, jobId: string, change: JobChange): Promise<Row | undefined> {
  const sql = cp.database.sql;
  switch (change.kind) {
    case 'start':
      return startJob(sql, jobId, change.workerId, change.checkedAgentId);
    case 'stop_queued':
      return stopQueuedJob(sql, jobId, change.reason);
    case 'end':
      return endJob(sql, jobId, change.from, change.status, change, change.attempt);
    case 'exit':
      return recordExit(sql, jobId, change.exit, change.attempt);
    case 'end_unaccepted':
      return endUnacceptedJob(sql, jobId, change.attempt);
  }
}

async function announce(cp: LifecycleDeps, t: JobTransition): Promise<void> {
  const { job } = t;
  if (isTerminal(t.to)) {
    await publishJobEvent(cp, job.id, { type: 'end', status: job.status, exitCode: job.exitCode, signal: job.signal });
  } else {
    // Not awaited: it is a courtesy to subscribers (they read Postgres too) and waiting would add
    // a Redis round trip to every dispatch. Commands on one connection keep their order, so it
    // still goes out before the job's end event.
    void publishJobEvent(cp, job.id, { type: 'status', status: job.status });
  }
  await notifyObservers(t, cp.log);
}
