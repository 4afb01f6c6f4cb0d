import type { Sql, TransactionSql } from 'postgres';

export interface OutputData {
  stream: 1 | 2;
  data: Buffer;
}

/** The bytes of the chunks a page sends, by (job, attempt, seq): primary-key lookups. Keyed `jobId:attempt:seq`. */
export async function readOutputData(sql: Sql | TransactionSql, keys: { jobId: string; attempt: number; seq: number }[]): Promise<Map<string, OutputData>> {
  if (keys.length === 0) return new Map();
  const rows = await sql<{ id: string; attempt: number; seq: number; stream: 1 | 2; data: Buffer }[]>`
    select o.job_id as id, o.attempt, o.seq, o.stream, o.data
    from unnest(${keys.map((k) => k.jobId)}::text[], ${keys.map((k) => k.attempt)}::int[], ${keys.map((k) => k.seq)}::int[]) as k(id, attempt, seq)
    join job_output o on o.job_id = k.id and o.attempt = k.attempt and o.seq = k.seq`;
  return new Map(rows.map((r) => [`${r.id}:${r.attempt}:${r.seq}`, { stream: r.stream, data: r.data }]));
}
