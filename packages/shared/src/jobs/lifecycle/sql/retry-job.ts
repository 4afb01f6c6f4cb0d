import type { Row, Sql } from 'postgres';
import type { RetryChange } from '../job-change.ts';

/**
 * `running → queued` or `queued → queued` (issue 14, retries), in one statement: the attempt that
 * is over goes on record in job_attempts (its status, exit, error, output size, where and when it
 * ran, and when the next is due) and the job is put back to wait for the next attempt: `queued`,
 * HELD (`released_at` null: no queue entry, no worker slot, no place in its target's line) until
 * `retry_at`, when the workers' release loop lets it go (jobs/retry/release-due-retries.ts). The
 * row is reset to what a job that never ran has: no exit, no error, no output bytes, no stop
 * request, no worker, not accepted, not started; `attempt` is the attempt just recorded, so the
 * start makes the next one `attempt + 1`.
 *
 * LOUD: fenced on the status, the attempt and the stop reason the policy was judged with: a cancel
 * recorded since makes it match nothing (the caller then writes the end, which records the cancel),
 * and of a retry and any other writer exactly one wins. The record and the reset are one statement:
 * a job is never retried without its attempt on record, nor recorded without being retried
 * (a conflict on (job_id, attempt) makes the reset match nothing either). Finished and due times
 * come from one clock reading, so `retry_at − finished_at` is exactly the delay drawn.
 */
export async function retryJob(sql: Sql, jobId: string, r: RetryChange): Promise<Row | undefined> {
  const o = r.outcome;
  const [row] = await sql`
    with cur as (
      select id, started_at, worker_id, output_bytes, output_truncated, clock_timestamp() as now from jobs
      where id = ${jobId} and status = ${r.from} and attempt = ${r.fence} and cancel_reason is not distinct from ${r.cancelReason}::text
      for update
    ), archived as (
      insert into job_attempts (job_id, attempt, status, exit_code, signal, error_code, error_message, output_bytes, output_truncated, worker_id, started_at, finished_at, retry_at)
      select id, ${r.attempt}, ${o.status}, ${o.exitCode}, ${o.signal}, ${o.error?.code ?? null}, ${o.error?.message ?? null},
             output_bytes, output_truncated or ${o.truncated}, worker_id, started_at, now, now + ${r.delayMs} * interval '1 millisecond'
      from cur
      on conflict (job_id, attempt) do nothing
      returning job_id, retry_at
    )
    update jobs set
      status = 'queued', attempt = ${r.attempt}, retry_at = archived.retry_at, released_at = null,
      exit_code = null, signal = null, error_code = null, error_message = null,
      output_bytes = 0, output_truncated = false, output_sha256 = null,
      cancel_reason = null, cancel_grace_ms = null, cancel_requested_at = null,
      worker_id = null, accepted_at = null, started_at = null, finished_at = null
    from archived
    where jobs.id = archived.job_id and jobs.status = ${r.from} and jobs.attempt = ${r.fence}
    returning jobs.*`;
  return row;
}
