import type { Sql } from 'postgres';
import type { JobRow } from './job-view.ts';
import { rowToJob } from './row-to-job.ts';

/**
 * Record a stop (cancel or timeout) of a running job: its holder is then told, and the job ends
 * with this reason when its process does (the `exit` transition reads it). The first reason
 * recorded stays. Not a status change: the job stays `running` until its process has exited.
 * Undefined: the job is not running.
 */
export async function recordStopRequest(sql: Sql, jobId: string, reason: 'canceled' | 'timed_out', graceMs: number): Promise<JobRow | undefined> {
  const [row] = await sql`
    update jobs set
      cancel_reason = coalesce(cancel_reason, ${reason}),
      cancel_grace_ms = ${graceMs},
      cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp())
    where id = ${jobId} and status = 'running'
    returning *`;
  return row ? rowToJob(row) : undefined;
}
