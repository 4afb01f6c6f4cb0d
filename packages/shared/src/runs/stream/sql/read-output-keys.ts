import type { Sql, TransactionSql } from 'postgres';
import { TERMINAL_STATUSES } from '../../../domain/job-status.ts';

/** A chunk of the window, without its bytes: enough to decide what a page sends. */
export interface OutputKey {
  index: number;
  jobId: string;
  target: string;
  seq: number;
  bytes: number;
  /** The child was already final in the window's upper snapshot: no earlier chunk can still come. */
  endedByUpper: boolean;
}

export interface OutputKeysQuery {
  runId: string;
  /** The window: rows `upper` sees and `snapshot` does not (or held), in (index, seq) order. */
  snapshot: string;
  upper: string;
  /** Per child: `held` (rows from it on are undelivered even if `snapshot` sees them) and `from` (no undelivered row below it). */
  children: { index: number; from: number; held: number | null }[];
  /** Start at this child, at this seq. */
  fromIndex: number;
  fromSeq: number;
  limit: number;
}

/**
 * The next chunks of a window, without their bytes, in (run_index, seq) order, at most `limit`.
 *
 * Plan (checked by run-stream.test.ts on a run of 1,000 children): the run's children in order
 * by jobs_run_idx, and for each one that may have output nobody has been sent (not final already
 * in `snapshot`, not still queued in `upper`), a range scan of the job_output primary key from
 * the lowest undelivered seq the caller knows. `octet_length` of a stored chunk reads its size
 * from the TOAST pointer, not the bytes.
 */
export async function readOutputKeys(sql: Sql | TransactionSql, q: OutputKeysQuery): Promise<OutputKey[]> {
  const rows = await outputKeysStatement(sql, q);
  return rows.map((r) => ({ index: r.ri, jobId: r.id, target: r.target ?? '', seq: r.seq, bytes: Number(r.n), endedByUpper: r.ended }));
}

/** The statement alone (a test reads its plan). */
export function outputKeysStatement(sql: Sql | TransactionSql, q: OutputKeysQuery) {
  // LOUD: sparse, one entry per child named (a jsonb object keyed by run index, looked up per
  // child by binary search), never an array sized by the largest index: a cursor names the
  // indexes, and a dense array for child 2^31 − 2 once took the API down. A join to an unnest
  // would do as well for size but lose the index order the page is read in. Sent as text and
  // cast: a string bound straight to a jsonb parameter is stored as a JSON string by some
  // postgres.js configurations (every lookup then null, and each child scanned from seq 0). The
  // cast is a scalar subquery, evaluated once: inline, a generic plan (postgres.js prepares
  // statements) parses the whole object again for every child (40 s for 10,000 children).
  const children = JSON.stringify(Object.fromEntries(q.children.map((c) => [String(c.index), [c.from, c.held]])));
  return sql<{ ri: number; id: string; target: string | null; seq: number; n: number; ended: boolean }[]>`
    select j.run_index as ri, j.id, j.target_name as target, o.seq, o.n,
           (j.status = any(${TERMINAL_STATUSES as unknown as string[]}::text[]) and pg_visible_in_snapshot(j.status_xid, ${q.upper}::pg_snapshot)) as ended
    from jobs j
    cross join lateral (select (e ->> 0)::int as lo, (e ->> 1)::int as held from (select (select ${children}::text::jsonb) -> j.run_index::text as e) x) k
    cross join lateral (
      select o.seq, octet_length(o.data) as n
      from job_output o
      -- The child's current attempt (issue 14). A run stream that delivered part of a retried
      -- child's earlier attempt goes on from the seq it had reached in the next one.
      where o.job_id = j.id and o.attempt = greatest(j.attempt, 1)
        and o.seq >= greatest(coalesce(k.lo, 0), case when j.run_index = ${q.fromIndex} then ${q.fromSeq}::int else 0 end)
        and pg_visible_in_snapshot(o.xid, ${q.upper}::pg_snapshot)
        and (not pg_visible_in_snapshot(o.xid, ${q.snapshot}::pg_snapshot) or o.seq >= k.held)
      order by o.seq
      limit ${q.limit}
    ) o
    where j.run_id = ${q.runId} and j.run_index is not null and j.run_index >= ${q.fromIndex}
      -- Final in the window's start (so every chunk was in it) and not held: nothing left to send.
      and (k.held is not null or not (j.status = any(${TERMINAL_STATUSES as unknown as string[]}::text[]) and pg_visible_in_snapshot(j.status_xid, ${q.snapshot}::pg_snapshot)))
      -- Still queued in the window's end: it has never run, so it has no output.
      and not (j.status = 'queued' and pg_visible_in_snapshot(j.status_xid, ${q.upper}::pg_snapshot))
    order by j.run_index, o.seq
    limit ${q.limit}`;
}
