import type { Sql, TransactionSql } from 'postgres';
import { JOB_STATUSES } from '../../../domain/job-status.ts';
import { TERMINAL_RUN_STATUSES } from '../../../domain/run-status.ts';

export interface RunQuietQuery {
  runId: string;
  /** The cursor's snapshot (a `between` cursor without holds): everything it sees was sent. */
  snapshot: string;
  /** The stream sends output (else output is not looked at). */
  output: boolean;
}

/**
 * Whether a window from `snapshot` to the transaction's own snapshot would send nothing: no
 * child's status changed, no running child wrote, the run's status did not change and is not
 * final (a final run's window sends `end`), and the run exists. One statement of a few index
 * probes, where the full read walks every child twice: an idle poll of a 10,000-child run.
 *
 * LOUD: it must say "not quiet" whenever the full read (read-run-stream.ts) would send a frame,
 * or the subscriber never gets it (the caller moves its snapshot past the change). Case by case:
 * - statuses: a child whose `status_xid` the snapshot does not see. Every xid below the
 *   snapshot's xmin is one it sees, so only `status_xid >= xmin` can be one: a range of
 *   jobs_run_status_idx per status (`status = any(every status)` lets the index seek past the
 *   run's unchanged children; a status missing from JOB_STATUSES would go unseen here).
 * - output: only a `running` child can have output the snapshot does not see whose status it
 *   does see (a queued child has none; a final one wrote all of it before its end). For each, the
 *   last chunk this transaction sees (of its latest attempt) suffices: with no holds in the cursor, a chunk the snapshot
 *   does not see and a later one it does would have left a hold (plan-output-page.ts), so if the
 *   last is seen, all are. One backward step of the job_output primary key per running child.
 */
export async function readRunQuiet(sql: Sql | TransactionSql, q: RunQuietQuery): Promise<boolean> {
  const [row] = await runQuietStatement(sql, q);
  return row!.quiet;
}

/**
 * The statement alone (a test reads its plan). One AND, cheapest first: each EXISTS is an
 * InitPlan run only when the ones before it said quiet, so a window that does change pays for
 * the run's row and the status seeks, not for a step into every running child's output.
 */
export function runQuietStatement(sql: Sql | TransactionSql, q: RunQuietQuery) {
  const snapshot = q.snapshot;
  return sql<{ quiet: boolean }[]>`
    select
      coalesce((select not (r.status = any(${TERMINAL_RUN_STATUSES as unknown as string[]}::text[])) and pg_visible_in_snapshot(r.status_xid, ${snapshot}::pg_snapshot)
                from runs r where r.id = ${q.runId}), false)
      and not exists (
        select 1 from jobs j
        where j.run_id = ${q.runId} and j.status = any(${JOB_STATUSES as unknown as string[]}::text[])
          and j.status_xid >= pg_snapshot_xmin(${snapshot}::pg_snapshot)
          and not pg_visible_in_snapshot(j.status_xid, ${snapshot}::pg_snapshot)
      )
      and not (${q.output}::boolean and exists (
        select 1 from jobs j
        cross join lateral (select o.xid from job_output o where o.job_id = j.id order by o.attempt desc, o.seq desc limit 1) o
        where j.run_id = ${q.runId} and j.status = 'running' and not pg_visible_in_snapshot(o.xid, ${snapshot}::pg_snapshot)
      )) as quiet`;
}
