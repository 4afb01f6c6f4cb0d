import type { Sql } from 'postgres';
import type { JobRow } from './job-view.ts';
import { rowToJob } from './row-to-job.ts';

/**
 * `queued → running`, only from `queued`, bumping the attempt (the fencing token). Returns the
 * job, or undefined when it is no longer queued (canceled meanwhile, or taken by another worker)
 * or is not for `checkedAgentId`: then the caller must not run it.
 *
 * `checkedAgentId` is the agent whose presence the caller has just checked, or null when it
 * checked none: an agent job then does not match, so no agent job starts without that check.
 *
 * LOUD: the UPDATE can commit and its answer be lost (the connection reset in between). Thrown
 * as a plain failure, that left the job `running` under a live worker that never ran it, and
 * nothing ends such a job (the sweeps trust a live worker). So on a failure the row is read
 * again, as long as Postgres takes to answer: `running` under this worker means the UPDATE
 * landed, and the job is returned to be run. That conclusion holds because a worker processes
 * one delivery of a job at a time (services/worker one-delivery-per-job.ts): no other start of
 * this job can carry this worker's id.
 */
export async function markJobRunning(sql: Sql, jobId: string, workerId: string, checkedAgentId: string | null): Promise<JobRow | undefined> {
  try {
    const [row] = await sql`
      update jobs set status = 'running', started_at = clock_timestamp(), attempt = attempt + 1, worker_id = ${workerId}
      where id = ${jobId} and status = 'queued' and agent_id is not distinct from ${checkedAgentId}
      returning *`;
    return row ? rowToJob(row) : undefined;
  } catch (err) {
    const row = await readUntilAnswered(sql, jobId);
    if (row && row.status === 'running' && row.worker_id === workerId && (row.agent_id ?? null) === checkedAgentId) return rowToJob(row);
    throw err;
  }
}

async function readUntilAnswered(sql: Sql, jobId: string) {
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await sql`select * from jobs where id = ${jobId}`;
      return row;
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
  }
}
