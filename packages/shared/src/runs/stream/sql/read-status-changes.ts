import type { Sql, TransactionSql } from 'postgres';
import type { JobStatus } from '../../../domain/job-status.ts';

export interface StatusChange {
  index: number;
  jobId: string;
  target: string;
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}

/**
 * The children whose last status change is in the window (`upper` sees it, `snapshot` does not),
 * after `afterIndex`, in index order, with their status now. A child that changed again after
 * `upper` is left for the next window, where its newer status comes after its newer output (the
 * status a child has now is then never ahead of the output sent before it).
 */
export async function readStatusChanges(sql: Sql | TransactionSql, q: { runId: string; snapshot: string; upper: string; afterIndex: number; limit: number }): Promise<StatusChange[]> {
  const rows = await sql<{ ri: number; id: string; target: string | null; status: JobStatus; exit_code: number | null; signal: string | null; error_code: string | null; error_message: string | null }[]>`
    select j.run_index as ri, j.id, j.target_name as target, j.status, j.exit_code, j.signal, j.error_code, j.error_message
    from jobs j
    where j.run_id = ${q.runId} and j.run_index > ${q.afterIndex}
      and pg_visible_in_snapshot(j.status_xid, ${q.upper}::pg_snapshot)
      and not pg_visible_in_snapshot(j.status_xid, ${q.snapshot}::pg_snapshot)
    order by j.run_index
    limit ${q.limit}`;
  return rows.map((r) => ({
    index: r.ri,
    jobId: r.id,
    target: r.target ?? '',
    status: r.status,
    exitCode: r.exit_code,
    signal: r.signal,
    errorCode: r.error_code,
    errorMessage: r.error_message,
  }));
}
