import type { Sql } from 'postgres';

/**
 * How many chunks of a job's attempt the server holds without a hole: the first seq the agent must
 * resend (§6). Normally count = max + 1 and one index-only query answers; after a hole, the first gap.
 */
export async function storedPrefixLength(sql: Sql, jobId: string, attempt: number): Promise<number> {
  const [agg] = await sql<{ n: number; max: number | null }[]>`
    select count(*)::int as n, max(seq) as max from job_output where job_id = ${jobId} and attempt = ${attempt}`;
  if (!agg || agg.n === 0) return 0;
  if (agg.max === agg.n - 1) return agg.n;
  const [gap] = await sql<{ rn: number }[]>`
    select rn from (select seq, (row_number() over (order by seq) - 1)::int as rn from job_output where job_id = ${jobId} and attempt = ${attempt}) t
    where seq <> rn order by rn limit 1`;
  return gap?.rn ?? agg.n;
}
