import type { Sql } from 'postgres';
import { jobEnded, jobRunEnded } from './ended.ts';

/**
 * Output-only expiry (VMO_OUTPUT_RETENTION_DAYS): claim at most `limit` jobs on the defaults whose
 * output is past it, by setting `output_expired_at`, and answer their ids; the caller then deletes
 * their rows (deleteOutputRows). The only writer of `jobs.output_expired_at`; it writes no status.
 *
 * LOUD: the flag goes first, the bytes after. From the flag on, a log read answers 410 and a
 * stream sends nothing, so nobody is ever served a log with its middle gone; and the log sink
 * refuses a resend for the job (logsink/insert-output-batch.ts). A pass stopped between the two
 * (a worker killed -9) leaves some rows of a flagged job: never shown, and deleted with the job.
 * `for update skip locked`: two workers never claim the same job.
 */
export async function claimOutputExpiry(sql: Sql, q: { now: Date; cutoff: Date; limit: number }): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    update jobs set output_expired_at = ${q.now.toISOString()}::timestamptz
    where id in (
      select id from jobs
      where retain_days is null and output_expired_at is null and ${jobEnded(sql)} and finished_at < ${q.cutoff.toISOString()}::timestamptz
        -- A running run's stream and summary still read its children's output.
        and ${jobRunEnded(sql)}
      order by finished_at, id
      limit ${q.limit}
      for update skip locked)
    returning id`;
  return rows.map((r) => r.id);
}

/** Jobs about to be deleted whole: flagged first too (same reason), those not flagged yet. */
export async function flagOutputExpired(sql: Sql, jobIds: readonly string[], now: Date): Promise<void> {
  await sql`update jobs set output_expired_at = ${now.toISOString()}::timestamptz where id = any(${jobIds as string[]}::text[]) and output_expired_at is null`;
}
