import type { Sql, TransactionSql } from 'postgres';
import { TERMINAL_STATUSES } from '../../../domain/job-status.ts';
import { ATTEMPT_STRIDE, chunkPosition } from '../chunk-position.ts';

/** A chunk of the window, without its bytes: enough to decide what a page sends. */
export interface OutputKey {
  index: number;
  jobId: string;
  target: string;
  attempt: number;
  seq: number;
  /** (attempt, seq) as one ordered number: chunk-position.ts. */
  position: number;
  bytes: number;
  /** The child was already final in the window's upper snapshot: no earlier chunk can still come. */
  endedByUpper: boolean;
}

export interface OutputKeysQuery {
  runId: string;
  /** The window: rows `upper` sees and `snapshot` does not (or held), in (index, attempt, seq) order. */
  snapshot: string;
  upper: string;
  /** Per child, as chunk positions: `held` (rows from it on are undelivered even if `snapshot` sees them) and `from` (no undelivered row below it). */
  children: { index: number; from: number; held: number | null }[];
  /** Start at this child, at this chunk position. */
  fromIndex: number;
  fromPosition: number;
  limit: number;
}

/**
 * The next chunks of a window, without their bytes, in (run_index, attempt, seq) order, at most
 * `limit`. Every attempt of a retried child, one after the other (chunk-position.ts).
 *
 * Plan (checked by run-stream.test.ts on a run of 1,000 children): the run's children in order
 * by jobs_run_idx, and for each one that may have output nobody has been sent (not final already
 * in `snapshot`, not still queued in `upper`), a range scan of the job_output primary key from
 * the lowest undelivered seq the caller knows. `octet_length` of a stored chunk reads its size
 * from the TOAST pointer, not the bytes.
 */
export async function readOutputKeys(sql: Sql | TransactionSql, q: OutputKeysQuery): Promise<OutputKey[]> {
  const rows = await outputKeysStatement(sql, q);
  return rows.map((r) => ({ index: r.ri, jobId: r.id, target: r.target ?? '', attempt: r.attempt, seq: r.seq, position: chunkPosition(r.attempt, r.seq), bytes: Number(r.n), endedByUpper: r.ended }));
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
  return sql<{ ri: number; id: string; target: string | null; attempt: number; seq: number; n: number; ended: boolean }[]>`
    select j.run_index as ri, j.id, j.target_name as target, o.attempt, o.seq, o.n,
           (j.status = any(${TERMINAL_STATUSES as unknown as string[]}::text[]) and pg_visible_in_snapshot(j.status_xid, ${q.upper}::pg_snapshot)) as ended
    from jobs j
    cross join lateral (select (e ->> 0)::bigint as lo, (e ->> 1)::bigint as held from (select (select ${children}::text::jsonb) -> j.run_index::text as e) x) k
    cross join lateral (select greatest(coalesce(k.lo, 0), case when j.run_index = ${q.fromIndex} then ${q.fromPosition}::bigint else 0 end) as p) f
    cross join lateral (
      select o.attempt, o.seq, octet_length(o.data) as n
      from job_output o
      -- Every attempt of the child in turn (issue 14), from the lowest chunk position not yet
      -- delivered: a row comparison, so the range scan of the primary key starts there.
      where o.job_id = j.id
        and (o.attempt, o.seq) >= ((f.p / ${ATTEMPT_STRIDE})::int, (f.p % ${ATTEMPT_STRIDE})::int)
        and pg_visible_in_snapshot(o.xid, ${q.upper}::pg_snapshot)
        and (not pg_visible_in_snapshot(o.xid, ${q.snapshot}::pg_snapshot) or o.attempt::bigint * ${ATTEMPT_STRIDE} + o.seq >= k.held)
      order by o.attempt, o.seq
      limit ${q.limit}
    ) o
    where j.run_id = ${q.runId} and j.run_index is not null and j.run_index >= ${q.fromIndex}
      -- Final in the window's start (so every chunk was in it) and not held: nothing left to send.
      and (k.held is not null or not (j.status = any(${TERMINAL_STATUSES as unknown as string[]}::text[]) and pg_visible_in_snapshot(j.status_xid, ${q.snapshot}::pg_snapshot)))
      -- Still queued in the window's end: it has never run, so it has no output.
      and not (j.status = 'queued' and pg_visible_in_snapshot(j.status_xid, ${q.upper}::pg_snapshot))
    order by j.run_index, o.attempt, o.seq
    limit ${q.limit}`;
}
