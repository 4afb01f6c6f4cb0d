import type { Sql } from 'postgres';
import type { jobs } from '../db/schema/jobs.ts';
import type { JobRow } from './job-view.ts';
import { rowToJob } from './row-to-job.ts';

/**
 * The job insert of POST /v1/jobs, written out: it is the hottest statement of submission and
 * building it through the query builder cost more CPU than sending it.
 */
export async function insertJob(sql: Sql, v: typeof jobs.$inferInsert): Promise<JobRow> {
  const [row] = await sql`
    insert into jobs (id, status, command, target, agent_id, host_id, env, cwd, timeout_ms, labels, created_by)
    values (${v.id}, ${v.status}, ${v.command}, ${JSON.stringify(v.target)}::jsonb, ${v.agentId ?? null}, ${v.hostId ?? null},
            ${JSON.stringify(v.env ?? {})}::jsonb, ${v.cwd ?? null}, ${v.timeoutMs}, ${JSON.stringify(v.labels ?? {})}::jsonb, ${v.createdBy ?? null})
    returning *`;
  return rowToJob(row!);
}
