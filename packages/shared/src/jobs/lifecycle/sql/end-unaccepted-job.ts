import type { Row, Sql } from 'postgres';

/**
 * `running → <the recorded stop reason>` for an agent job whose agent never confirmed the start
 * (`accepted_at is null`): once it wins, the job is never dispatched again. A `started` that has
 * landed makes it match nothing, and the job is left to its exit.
 */
export async function endUnacceptedJob(sql: Sql, jobId: string, attempt: number): Promise<Row | undefined> {
  const [row] = await sql`
    update jobs set status = cancel_reason, finished_at = clock_timestamp()
    where id = ${jobId} and attempt = ${attempt} and status = 'running' and accepted_at is null and cancel_reason is not null
    returning *`;
  return row;
}
