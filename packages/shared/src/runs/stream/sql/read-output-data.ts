import type { Sql, TransactionSql } from 'postgres';

export interface OutputData {
  stream: 1 | 2;
  data: Buffer;
}

/** The bytes of the chunks a page sends, by (job, seq): primary-key lookups. Keyed `jobId:seq`. */
export async function readOutputData(sql: Sql | TransactionSql, keys: { jobId: string; seq: number }[]): Promise<Map<string, OutputData>> {
  if (keys.length === 0) return new Map();
  const rows = await sql<{ id: string; seq: number; stream: 1 | 2; data: Buffer }[]>`
    select o.job_id as id, o.seq, o.stream, o.data
    from unnest(${keys.map((k) => k.jobId)}::text[], ${keys.map((k) => k.seq)}::int[]) as k(id, seq)
    join jobs j on j.id = k.id
    join job_output o on o.job_id = k.id and o.attempt = greatest(j.attempt, 1) and o.seq = k.seq`;
  return new Map(rows.map((r) => [`${r.id}:${r.seq}`, { stream: r.stream, data: r.data }]));
}
