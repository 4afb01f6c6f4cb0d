import type { Sql } from 'postgres';

export interface OutputRow {
  jobId: string;
  seq: number;
  stream: 1 | 2;
  data: Buffer;
}

/**
 * Store a batch of chunks in one statement, add their sizes to `jobs.output_bytes` and clear the
 * job's output hash (`jobs.output_sha256`, computed by run summaries once the job is final).
 *
 * LOUD: `ON CONFLICT DO NOTHING` on (job_id, seq) is what makes a retransmit harmless: an agent
 * resending after a reconnect, or a retried batch, must never store a chunk twice or count its
 * bytes twice. Only the rows actually inserted are returned, counted and published.
 */
export async function insertOutputBatch(sql: Sql, rows: OutputRow[]): Promise<Set<string>> {
  const values = rows.map((r) => ({ job_id: r.jobId, seq: r.seq, stream: r.stream, data: r.data }));
  const inserted = await sql<{ job_id: string; seq: number }[]>`
    with ins as (
      insert into job_output ${sql(values)}
      on conflict (job_id, seq) do nothing
      returning job_id, seq, octet_length(data) as n
    ), counted as (
      -- A stored chunk makes any output hash stale (jobs.output_sha256: run summaries recompute it).
      update jobs set output_bytes = jobs.output_bytes + s.n, output_sha256 = null
      from (select job_id, sum(n)::bigint as n from ins group by job_id) s
      where jobs.id = s.job_id
    )
    select job_id, seq from ins`;
  return new Set(inserted.map((r) => `${r.job_id}:${r.seq}`));
}
