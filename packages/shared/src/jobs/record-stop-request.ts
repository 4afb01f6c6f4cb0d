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

/**
 * recordStopRequest for every running child of a run that has no stop recorded yet, in one
 * statement (a canceled run of 10,000 running children is one round trip, not 10,000). Each
 * child is claimed by exactly one caller, the run's cancel or a roll-up finishing a cancel whose
 * process died, which then tells its holder (stopJob's sendStop): a child is never told twice.
 * Returns the children claimed.
 */
export async function recordRunStopRequests(sql: Sql, runId: string, reason: 'canceled' | 'timed_out', graceMs: number): Promise<{ id: string; agentId: string | null }[]> {
  const rows = await sql<{ id: string; agent_id: string | null }[]>`
    update jobs set cancel_reason = ${reason}, cancel_grace_ms = ${graceMs}, cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp())
    where run_id = ${runId} and status = 'running' and cancel_reason is null
    returning id, agent_id`;
  return rows.map((r) => ({ id: r.id, agentId: r.agent_id }));
}
