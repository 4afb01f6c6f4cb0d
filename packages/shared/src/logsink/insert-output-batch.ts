import type { Sql } from 'postgres';
import { outputAttemptIsOver } from './output-attempt-fence.ts';

export interface OutputRow {
  jobId: string;
  /**
   * The job's attempt that produced the chunk: the attempt its producer was started (fenced) on,
   * never read back from the job row (issue 14: each attempt's seqs start at 0 again).
   */
  attempt: number;
  seq: number;
  stream: 1 | 2;
  data: Buffer;
}

/** A stored chunk's identity: its job, attempt and seq. */
export const outputRowKey = (r: { jobId: string; attempt: number; seq: number }): string => `${r.jobId}:${r.attempt}:${r.seq}`;

/**
 * Store a batch of chunks in one statement, add their sizes to `jobs.output_bytes` and clear the
 * job's output hash (`jobs.output_sha256`, computed by run summaries once the job is final).
 *
 * LOUD: `ON CONFLICT DO NOTHING` on (job_id, attempt, seq) is what makes a retransmit harmless: an
 * agent resending after a reconnect, or a retried batch, must never store a chunk twice or count
 * its bytes twice. Only the rows actually inserted are returned, counted and published.
 *
 * LOUD: THE ATTEMPT FENCE ON OUTPUT (issue 14, retries; the condition itself lives in
 * output-attempt-fence.ts). A chunk is stored under the attempt its producer was fenced on, and is
 * REFUSED (not stored, not counted, not published) once that attempt is over. So late output of attempt 1 (a partitioned agent, a stale
 * worker) can never land in attempt 2: not in its rows (its own key), not in its byte count (the
 * count is fenced the same way, on the row as it is when the UPDATE takes it), not on its stream.
 * A chunk whose job row has an older attempt (a job not started yet; tests insert such rows) or
 * no row is stored as before: only a stale attempt is refused. The refused producer is
 * acknowledged like a stored one: its output belongs to an attempt that is already on record.
 */
export async function insertOutputBatch(sql: Sql, rows: OutputRow[]): Promise<Set<string>> {
  const values = rows.map((r) => [r.jobId, r.attempt, r.seq, r.stream, r.data]);
  const inserted = await sql<{ job_id: string; attempt: number; seq: number }[]>`
    with v (job_id, attempt, seq, stream, data) as (values ${sql(values as never)}),
    ins as (
      insert into job_output (job_id, attempt, seq, stream, data)
      select v.job_id, v.attempt::int, v.seq::int, v.stream::smallint, v.data::bytea
      from v left join jobs j on j.id = v.job_id
      where j.id is null
         or (not ${outputAttemptIsOver(sql, { job: 'j', attempt: 'v.attempt' })}
             -- Retention deleted this job's output (retention/): a resend arriving after that stores nothing again.
             and j.output_expired_at is null)
      on conflict (job_id, attempt, seq) do nothing
      returning job_id, attempt, seq, octet_length(data) as n
    ), counted as (
      -- A stored chunk makes any output hash stale (jobs.output_sha256: run summaries recompute it).
      update jobs set output_bytes = jobs.output_bytes + s.n, output_sha256 = null
      from (select job_id, attempt, sum(n)::bigint as n from ins group by job_id, attempt) s
      where jobs.id = s.job_id
        -- LOUD: the same fence, checked again on the row this UPDATE takes: a retry committed since
        -- the insert read the job must not find the old attempt's bytes counted in the new one.
        and not ${outputAttemptIsOver(sql, { job: 'jobs', attempt: 's.attempt' })}
    )
    select job_id, attempt, seq from ins`;
  return new Set(inserted.map((r) => outputRowKey({ jobId: r.job_id, attempt: r.attempt, seq: r.seq })));
}
