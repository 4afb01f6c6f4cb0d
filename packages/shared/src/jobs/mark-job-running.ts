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
 */
export async function markJobRunning(sql: Sql, jobId: string, workerId: string, checkedAgentId: string | null): Promise<JobRow | undefined> {
  const [row] = await sql`
    update jobs set status = 'running', started_at = clock_timestamp(), attempt = attempt + 1, worker_id = ${workerId}
    where id = ${jobId} and status = 'queued' and agent_id is not distinct from ${checkedAgentId}
    returning *`;
  return row ? rowToJob(row) : undefined;
}
