import type { Sql } from 'postgres';

/**
 * Chunk sizes as the log sink stores them from real commands: mostly a line or a few (64–511 B),
 * some pipe reads of a busy command (2 KiB), a few large ones (16 KiB, 1 in 50). About 0.9 KiB on
 * average. The bytes are text (hex digits repeated), compressible as logs are.
 */
export const chunkSizeSql = (seq: string) => `case when ${seq} % 50 = 0 then 16384 when ${seq} % 5 = 0 then 2048 else 64 + (${seq} * 37) % 448 end`;
export const chunkDataSql = (key: string, size: string) => `convert_to(substr(repeat(md5(${key}), ceil((${size}) / 32.0)::int), 1, ${size}), 'UTF8')`;

/**
 * `jobs` ended jobs, `chunksPerJob` output rows each, ended `daysAgo` days ago: inserted `perStatement`
 * jobs at a time so that no one transaction is huge. Answers the ids.
 */
export async function seedEndedJobsWithOutput(sql: Sql, opts: { jobs: number; chunksPerJob: number; daysAgo: number; perStatement?: number; onProgress?: (done: number) => void }): Promise<string[]> {
  const prefix = `job_seed${Date.now().toString(36)}`;
  const ids = Array.from({ length: opts.jobs }, (_, i) => `${prefix}${String(i).padStart(7, '0')}`);
  const step = opts.perStatement ?? 50;
  for (let i = 0; i < ids.length; i += step) {
    const batch = ids.slice(i, i + step);
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, created_at, started_at, finished_at, output_bytes)
      select id, 'succeeded', 'seeded', '{"type":"local"}'::jsonb, 60000,
             now() - ${opts.daysAgo} * interval '1 day', now() - ${opts.daysAgo} * interval '1 day', now() - ${opts.daysAgo} * interval '1 day', 0
      from unnest(${batch}::text[]) id`;
    await sql.unsafe(
      `insert into job_output (job_id, attempt, seq, stream, data, created_at)
       select j, 1, s, 1 + (s % 7 = 0)::int, ${chunkDataSql(`j || s::text`, chunkSizeSql('s'))}, now() - ${opts.daysAgo} * interval '1 day'
       from unnest($1::text[]) j, generate_series(0, ${opts.chunksPerJob - 1}) s`,
      [batch],
    );
    opts.onProgress?.(Math.min(ids.length, i + step) * opts.chunksPerJob);
  }
  return ids;
}
