import type { Row, Sql } from 'postgres';

/**
 * `queued → canceled | timed_out`, in one statement conditional on `queued`: it and a worker's
 * `queued → running` cannot both win, so a job stopped while queued never starts.
 */
export async function stopQueuedJob(sql: Sql, jobId: string, reason: 'canceled' | 'timed_out'): Promise<Row | undefined> {
  const [row] = await sql`
    update jobs set status = ${reason}, cancel_reason = ${reason}, cancel_requested_at = clock_timestamp(), finished_at = clock_timestamp()
    where id = ${jobId} and status = 'queued' returning *`;
  return row;
}
