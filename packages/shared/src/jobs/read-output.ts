import type { Sql } from 'postgres';
import { toDate } from './row-to-job.ts';

export interface StoredChunk {
  seq: number;
  stream: 1 | 2;
  data: Buffer;
  createdAt: Date;
}

/**
 * Which attempt's output (issue 14: each attempt of a retried job has its own, seqs from 0): the
 * number, or absent for the job's latest (`jobs.attempt`: the one running or last run; 1 for a job
 * not started yet, which has none).
 */
const attemptSql = (sql: Sql, jobId: string, attempt: number | undefined) =>
  attempt === undefined ? sql`(select greatest(attempt, 1) from jobs where id = ${jobId})` : sql`${attempt}::int`;

/** One page of a job attempt's stored output, in seq order, after `afterSeq`. Served by the primary key. */
export async function readOutputPage(
  sql: Sql,
  jobId: string,
  opts: { attempt?: number | undefined; afterSeq: number; beforeSeq?: number; stream?: 1 | 2 | undefined; limit: number },
): Promise<StoredChunk[]> {
  const rows = await sql<{ seq: number; stream: 1 | 2; data: Buffer; created_at: Date }[]>`
    select seq, stream, data, created_at from job_output
    where job_id = ${jobId} and attempt = ${attemptSql(sql, jobId, opts.attempt)} and seq > ${opts.afterSeq}
      ${opts.beforeSeq === undefined ? sql`` : sql`and seq < ${opts.beforeSeq}`}
      ${opts.stream ? sql`and stream = ${opts.stream}` : sql``}
    order by seq
    limit ${opts.limit}`;
  return rows.map((r) => ({ seq: r.seq, stream: r.stream, data: r.data, createdAt: toDate(r.created_at) }));
}

/** All of an attempt's stored output after `afterSeq` (absent attempt: the latest), page by page (bounded memory). */
export async function* readOutput(sql: Sql, jobId: string, opts: { attempt?: number | undefined; afterSeq: number; stream?: 1 | 2 | undefined; pageSize?: number }): AsyncGenerator<StoredChunk[]> {
  let after = opts.afterSeq;
  // Resolved once: a retry starting mid-read must not switch the rest of the pages to another attempt.
  const attempt = opts.attempt ?? (await latestAttempt(sql, jobId));
  for (;;) {
    const page = await readOutputPage(sql, jobId, { attempt, afterSeq: after, stream: opts.stream, limit: opts.pageSize ?? 256 });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]!.seq;
  }
}

/** The job's latest attempt that may have output (1 before it has run), or 1 when there is no such job. */
export async function latestAttempt(sql: Sql, jobId: string): Promise<number> {
  const [row] = await sql<{ attempt: number }[]>`select greatest(attempt, 1) as attempt from jobs where id = ${jobId}`;
  return row?.attempt ?? 1;
}
