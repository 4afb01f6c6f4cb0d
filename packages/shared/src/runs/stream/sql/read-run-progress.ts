import type { Sql, TransactionSql } from 'postgres';
import type { RunStatus } from '../../../domain/run-status.ts';

export interface RunState {
  status: RunStatus;
  total: number;
  errorCode: string | null;
  errorMessage: string | null;
  /** Its last status change is seen by `upper`, and by `snapshot`. */
  changedByUpper: boolean;
  changedBySnapshot: boolean;
}

/** The run's row as the window sees it, or undefined when there is no such run. */
export async function readRunState(sql: Sql | TransactionSql, q: { runId: string; snapshot: string; upper: string }): Promise<RunState | undefined> {
  const [row] = await sql<{ status: RunStatus; total: number; error_code: string | null; error_message: string | null; by_upper: boolean; by_snapshot: boolean }[]>`
    select status, total, error_code, error_message,
           pg_visible_in_snapshot(status_xid, ${q.upper}::pg_snapshot) as by_upper,
           pg_visible_in_snapshot(status_xid, ${q.snapshot}::pg_snapshot) as by_snapshot
    from runs where id = ${q.runId}`;
  if (!row) return undefined;
  return { status: row.status, total: row.total, errorCode: row.error_code, errorMessage: row.error_message, changedByUpper: row.by_upper, changedBySnapshot: row.by_snapshot };
}

/** How many children the run has (fixed when it is submitted), or undefined when there is no such run. */
export async function readRunTotal(sql: Sql | TransactionSql, runId: string): Promise<number | undefined> {
  const [row] = await sql<{ total: number }[]>`select total from runs where id = ${runId}`;
  return row?.total;
}
