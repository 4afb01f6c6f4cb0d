import type { Sql } from 'postgres';
import { toDate } from './row-to-job.ts';

export interface StoredChunk {
  seq: number;
  stream: 1 | 2;
  data: Buffer;
  createdAt: Date;
}

/** One page of a job's stored output, in seq order, after `afterSeq`. Served by the primary key. */
export async function readOutputPage(
  sql: Sql,
  jobId: string,
  opts: { afterSeq: number; beforeSeq?: number; stream?: 1 | 2; limit: number },
): Promise<StoredChunk[]> {
  const rows = await sql<{ seq: number; stream: 1 | 2; data: Buffer; created_at: Date }[]>`
    select seq, stream, data, created_at from job_output
    where job_id = ${jobId} and seq > ${opts.afterSeq}
      ${opts.beforeSeq === undefined ? sql`` : sql`and seq < ${opts.beforeSeq}`}
      ${opts.stream ? sql`and stream = ${opts.stream}` : sql``}
    order by seq
    limit ${opts.limit}`;
  return rows.map((r) => ({ seq: r.seq, stream: r.stream, data: r.data, createdAt: toDate(r.created_at) }));
}

/** All stored output after `afterSeq`, page by page (bounded memory). */
export async function* readOutput(sql: Sql, jobId: string, opts: { afterSeq: number; stream?: 1 | 2; pageSize?: number }): AsyncGenerator<StoredChunk[]> {
  let after = opts.afterSeq;
  for (;;) {
    const page = await readOutputPage(sql, jobId, { afterSeq: after, stream: opts.stream, limit: opts.pageSize ?? 256 });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]!.seq;
  }
}
