import type { Row, Sql } from 'postgres';
import type { JobError } from '../job-change.ts';

/**
 * End the `queued` children of a run at once, held or released, in one statement conditional on
 * `queued`: each row races a worker's `queued → running` on its row lock, and exactly one of the
 * two wins it. A child that started first is left alone (it runs to its end); one that this
 * statement ended never starts (the start statements require `queued`), so a released child still
 * waiting in the queue or at its target's gate is ended here too and its queue entry does nothing.
 *
 * `canceled` records the reason as a single job's `stop_queued` does, so a child ends the same way
 * whether it was canceled alone or with its run.
 */
export async function endQueuedRunChildren(
  sql: Sql,
  runId: string,
  end: { status: 'skipped'; error: JobError } | { status: 'canceled' },
): Promise<Row[]> {
  if (end.status === 'skipped') {
    return sql`
      update jobs set status = 'skipped', error_code = ${end.error.code}, error_message = ${end.error.message}, finished_at = clock_timestamp()
      where run_id = ${runId} and status = 'queued'
      returning *`;
  }
  return sql`
    update jobs set status = 'canceled', cancel_reason = 'canceled', cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp()), finished_at = clock_timestamp()
    where run_id = ${runId} and status = 'queued'
    returning *`;
}
