import type { Row } from 'postgres';
import { publishJobEvent } from '../../bus/publish.ts';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { isTerminal } from '../../domain/job-status.ts';
import type { JobRow } from '../job-view.ts';
import { rowToJob } from '../row-to-job.ts';
import { edgesOf, type JobChange } from './job-change.ts';
import { notifyObservers, type JobTransition } from './observers.ts';
import { mayBeRetried, readRetryFence, retryOf } from './retry.ts';
import { endJob } from './sql/end-job.ts';
import { endUnacceptedJob } from './sql/end-unaccepted-job.ts';
import { recordExit } from './sql/record-exit.ts';
import { retryJob } from './sql/retry-job.ts';
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
 *    change carries one, only its attempt: of concurrent writers exactly one wins. An `exit` or
 *    `end` that may be retried (issue 14) is judged against the job's retry policy first, and
 *    becomes a `retry` (back to `queued` for the next attempt) when the policy wants one
 *    (writeEndOrRetry below): the caller asked for an end, and gets the job as written;
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
  const asked = edgesOf(change);
  for (const status of asked.to) if (!isAllowed(asked.from, status)) throw new IllegalTransitionError(asked.from, status, change.kind);
  const written = mayBeRetried(change) ? await writeEndOrRetry(cp, jobId, change) : await writeOne(cp, jobId, change);
  if (!written) return undefined;
  const { from, to } = edgesOf(written.change);
  const job = rowToJob(written.row);
  if (!to.includes(job.status)) {
    // Only `exit` and `end_unaccepted` take the status from a column (cancel_reason), which only
    // typed writers set: reaching this is a bug, and the row is already written.
    cp.log.error({ jobId, from, to: job.status, change: written.change.kind }, 'a transition wrote a status its change does not allow');
  }
  await announce(cp, { job, from, to: job.status, kind: written.change.kind });
  return job;
}

async function writeOne(cp: LifecycleDeps, jobId: string, change: JobChange): Promise<{ row: Row; change: JobChange } | undefined> {
  const row = await write(cp, jobId, change, false);
  return row ? { row, change } : undefined;
}

/** How often a retry that lost to a change of the row (a cancel, a stop reason) is judged again before the end is written as asked. */
const RETRY_ROUNDS = 3;

/**
 * An `exit` or an `end` as `failed`, `timed_out` or `lost` (issue 14). Jobs without a retry
 * policy (nearly all) end in the one statement they always did: it matches only `retry is null`.
 * When it matches nothing, the job has a policy (or another writer won): the policy is read with
 * the job's status, attempt and stop reason, and the end is either written as asked or becomes a
 * `retry` (sql/retry-job.ts), fenced on what was read. A retry that lost (a cancel was recorded
 * in between) is judged again on the new row: a canceled job is never retried.
 */
async function writeEndOrRetry(cp: LifecycleDeps, jobId: string, change: Extract<JobChange, { kind: 'exit' | 'end' }>): Promise<{ row: Row; change: JobChange } | undefined> {
  const fast = await write(cp, jobId, change, true);
  if (fast) return { row: fast, change };
  for (let round = 0; round < RETRY_ROUNDS; round++) {
    const fence = await readRetryFence(cp.database.sql, jobId);
    if (!fence) return undefined;
    const retry = retryOf(change, fence);
    if (!retry) return writeOne(cp, jobId, change);
    if (!isAllowed(retry.from, 'queued')) throw new IllegalTransitionError(retry.from, 'queued', 'retry');
    const row = await retryJob(cp.database.sql, jobId, retry);
    if (row) return { row, change: retry };
  }
  return writeOne(cp, jobId, change);
}

/** The change's one statement; `withoutRetryPolicy`: an end that matches only a job with no retry policy. */
function write(cp: LifecycleDeps, jobId: string, change: JobChange, withoutRetryPolicy: boolean): Promise<Row | undefined> {
  const sql = cp.database.sql;
  switch (change.kind) {
    case 'start':
      return startJob(sql, jobId, change.workerId, change.checkedAgentId);
    case 'stop_queued':
      return stopQueuedJob(sql, jobId, change.reason);
    case 'end':
      return endJob(sql, jobId, change.from, change.status, change, change.attempt, withoutRetryPolicy);
    case 'exit':
      return recordExit(sql, jobId, change.exit, change.attempt, withoutRetryPolicy);
    case 'end_unaccepted':
      return endUnacceptedJob(sql, jobId, change.attempt);
    case 'retry':
      return retryJob(sql, jobId, change);
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
