import type { TransactionSql } from 'postgres';

/**
 * The first statement of a run stream's read: the transaction's snapshot (REPEATABLE READ: the
 * one every statement after it reads with), and the planner settings for the rest of it.
 *
 * Why the settings (local to this transaction): the page of output is ordered by (child, seq) and
 * cut at a limit. Read child by child from jobs_run_idx, each child's chunks in seq order from the
 * primary key, it needs only an incremental sort and stops as soon as the page is full. Left to
 * its estimates (most jobs have a few chunks) the planner sorts every undelivered chunk of every
 * child instead, and reads each child's with a bitmap scan and a sort: on a first window of 1,000
 * children that was every chunk of the run for every 1 MiB page (265 ms against 3 ms for 80,000
 * chunks; run-stream.test.ts checks the plan). Turning plain sorts and bitmap scans off only makes
 * them the last resort: no statement of the read needs one.
 */
export async function beginRunStreamRead(tx: TransactionSql): Promise<string> {
  const [row] = await tx<{ s: string }[]>`
    select pg_current_snapshot()::text as s, set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)`;
  return row!.s;
}
