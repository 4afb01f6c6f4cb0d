import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { JobStatus } from '../../domain/job-status.ts';
import { jobView, type JobView } from '../job-view.ts';
import { rowToJob } from '../row-to-job.ts';

export interface ListJobsQuery {
  status?: JobStatus;
  agentId?: string;
  limit: number;
  /** Id of the last job of the previous page. */
  cursor?: string;
}

/**
 * Newest first, keyset pagination on (created_at, id): stable while jobs are being added, and
 * the cursor is a job id so no timestamp precision is lost in a round trip through JSON.
 */
export async function listJobs(cp: ControlPlane, q: ListJobsQuery): Promise<{ items: JobView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const rows = await sql`
    select * from jobs
    where true
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${q.agentId ? sql`and agent_id = ${q.agentId}` : sql``}
      ${q.cursor ? sql`and (created_at, id) < (select created_at, id from jobs where id = ${q.cursor})` : sql``}
    order by created_at desc, id desc
    limit ${q.limit + 1}`;
  const items = rows.slice(0, q.limit).map((r) => jobView(rowToJob(r)));
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}
