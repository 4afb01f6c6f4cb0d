import type { Sql } from 'postgres';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { insertOutputBatch, outputRowKey, type OutputRow } from './insert-output-batch.ts';
import { outputAttemptIsOver } from './output-attempt-fence.ts';

/**
 * Batches from this size on go through COPY (copyOutputBatch); smaller ones through the one INSERT
 * statement. COPY takes four round trips more (BEGIN, the COPY's start, its end, COMMIT): worth it
 * for the hex it saves on a large batch, not for a line of interactive output waiting for its
 * subscriber (the latency benchmark's `echo hi`).
 */
export const COPY_MIN_BATCH_BYTES = 32 * 1024;

/**
 * Store a batch of chunks (deduplicated by the caller), fence and count them: the keys stored.
 * Large batches by COPY (binary), falling back to the INSERT when the batch holds a retransmit.
 */
export async function storeOutputBatch(sql: Sql, rows: OutputRow[]): Promise<Set<string>> {
  let bytes = 0;
  for (const r of rows) bytes += r.data.length;
  if (bytes >= COPY_MIN_BATCH_BYTES) {
    const stored = await copyOutputBatch(sql, rows);
    if (stored) return stored;
  }
  return insertOutputBatch(sql, rows);
}

/** `COPY … (FORMAT binary)`: signature, flags (0), header extension length (0). */
const COPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** The file trailer: a tuple field count of -1. */
const COPY_TRAILER = Buffer.from([0xff, 0xff]);

/**
 * Store a batch of NEW chunks with `COPY job_output FROM STDIN (FORMAT binary)`, then fence and
 * count them in one statement, all in one transaction. Answers the keys stored, or `undefined`
 * when a chunk of the batch is already stored: the transaction is rolled back (nothing stored,
 * nothing counted) and the caller stores the batch with insertOutputBatch, which skips what is
 * there.
 *
 * Why: insertOutputBatch's multi-row INSERT sends each chunk as hex text (postgres.js has no
 * binary parameters): twice the bytes on the wire, a hex encoding in Node and a hex decoding in
 * Postgres per byte; in the output benchmark that was the API's largest cost (issue 16). COPY in
 * binary sends the bytes as they are. It has no ON CONFLICT, so a retransmit (rare: a resend after
 * an agent's reconnect, a batch retried after its answer was lost) fails it and takes the other path.
 *
 * LOUD: the same guarantees as insertOutputBatch, which stays the reference:
 *  - exactly once: COPY stores every chunk or (on any conflict) none; the count covers exactly
 *    the chunks this transaction keeps;
 *  - THE ATTEMPT FENCE (issue 14, output-attempt-fence.ts): after the COPY, the job rows are locked and each chunk whose
 *    attempt is over (the job started a later one, or waits `queued` for a retry of this one), or
 *    whose job's output retention deleted, is deleted again in the same transaction: never
 *    visible, never counted, never published. A chunk whose job has no row is kept, uncounted;
 *  - the count is fenced again on the row the UPDATE takes, as in insertOutputBatch.
 */
export async function copyOutputBatch(sql: Sql, rows: OutputRow[]): Promise<Set<string> | undefined> {
  const ids: string[] = [];
  const attempts: number[] = [];
  const seqs: number[] = [];
  const sizes: number[] = [];
  for (const r of rows) {
    ids.push(r.jobId);
    attempts.push(r.attempt);
    seqs.push(r.seq);
    sizes.push(r.data.length);
  }
  try {
    const refused = await sql.begin(async (tx) => {
      const copy = await tx`copy job_output (job_id, attempt, seq, stream, data) from stdin (format binary)`.writable();
      const finished = new Promise<void>((resolve, reject) => {
        copy.once('finish', resolve);
        copy.on('error', reject);
      });
      copy.write(COPY_HEADER);
      // The tuple's head and its data go as two CopyData messages (COPY reads them as one
      // stream): the data is copied once, into the message, and never concatenated first.
      for (const r of rows) {
        copy.write(tupleHead(r));
        if (r.data.length > 0) copy.write(r.data);
      }
      copy.end(COPY_TRAILER);
      await finished;
      return tx<{ job_id: string; attempt: number; seq: number }[]>`
        with v (job_id, attempt, seq, n) as (
          select * from unnest(${ids}::text[], ${attempts}::int[], ${seqs}::int[], ${sizes}::bigint[])
        ), j as (
          -- Locked, in one order for every writer: the fence below is judged on the row as it
          -- is now, and cannot change before this transaction commits.
          select id, attempt, status, retry_at, output_expired_at from jobs
          where id in (select job_id from v) order by id for no key update
        ), refused as (
          select v.job_id, v.attempt, v.seq from v join j on j.id = v.job_id
          where ${outputAttemptIsOver(tx, { job: 'j', attempt: 'v.attempt' })}
             -- Retention deleted this job's output (retention/): a resend arriving after that stores nothing again.
             or j.output_expired_at is not null
        ), dropped as (
          delete from job_output o using refused r where o.job_id = r.job_id and o.attempt = r.attempt and o.seq = r.seq
        ), counted as (
          -- A stored chunk makes any output hash stale (jobs.output_sha256: run summaries recompute it).
          update jobs set output_bytes = jobs.output_bytes + s.n, output_sha256 = null
          from (
            select v.job_id, v.attempt, sum(v.n)::bigint as n from v
            where not exists (select from refused r where r.job_id = v.job_id and r.attempt = v.attempt and r.seq = v.seq)
            group by v.job_id, v.attempt
          ) s
          where jobs.id = s.job_id
            and not ${outputAttemptIsOver(tx, { job: 'jobs', attempt: 's.attempt' })}
            and jobs.output_expired_at is null
        )
        select job_id, attempt, seq from refused`;
    });
    const stored = new Set(rows.map(outputRowKey));
    for (const r of refused) stored.delete(outputRowKey({ jobId: r.job_id, attempt: r.attempt, seq: r.seq }));
    return stored;
  } catch (err) {
    // A unique violation: a chunk of the batch is already stored (a retransmit).
    if (pgErrorCode(err) === UNIQUE_VIOLATION) return undefined;
    throw err;
  }
}

/** One binary COPY tuple up to its data: (job_id text, attempt int4, seq int4, stream int2, data bytea). */
function tupleHead(r: OutputRow): Buffer {
  const id = Buffer.from(r.jobId, 'utf8');
  const head = Buffer.allocUnsafe(2 + 4 + id.length + 8 + 8 + 6 + 4);
  let o = head.writeInt16BE(5, 0);
  o = head.writeInt32BE(id.length, o);
  o += id.copy(head, o);
  o = head.writeInt32BE(4, o);
  o = head.writeInt32BE(r.attempt, o);
  o = head.writeInt32BE(4, o);
  o = head.writeInt32BE(r.seq, o);
  o = head.writeInt32BE(2, o);
  o = head.writeInt16BE(r.stream, o);
  head.writeInt32BE(r.data.length, o);
  return head;
}
