import type postgres from 'postgres';
import { TERMINAL_STATUSES, type JobStatus } from '../domain/job-status.ts';

/** A pool or a transaction: the roll-up runs these inside its own. */
type Sql = postgres.ISql;

/*
 * The reads (and the one write that is not a status: the release) of a run's children that the
 * roll-up needs beside their counts (child-counts.ts), each over jobs_run_idx (run_id, run_index).
 */

const TERMINAL = TERMINAL_STATUSES as readonly string[] as string[];

/**
 * Release up to `count` held children in run_index order (below `beforeIndex`: the canaries
 * alone): they may now be dispatched. Not a status change (they stay `queued`); the caller
 * enqueues them after its transaction commits, and the reconciler does if that enqueue is lost.
 */
export async function releaseChildren(sql: Sql, runId: string, count: number, beforeIndex: number | null): Promise<{ id: string; agentId: string | null; priority: number }[]> {
  if (count <= 0) return [];
  const rows = await sql<{ id: string; agent_id: string | null; priority: number }[]>`
    update jobs set released_at = clock_timestamp()
    where id in (
      select id from jobs
      where run_id = ${runId} and status = 'queued' and released_at is null
        -- A child waiting for its next attempt (issue 14) only once its retry_at has come.
        and (retry_at is null or retry_at <= clock_timestamp())
        ${beforeIndex === null ? sql`` : sql`and run_index < ${beforeIndex}`}
      order by run_index
      limit ${count})
    returning id, agent_id, priority`;
  return rows.map((r) => ({ id: r.id, agentId: r.agent_id, priority: r.priority }));
}

/** The first canary that ended other than `succeeded`: what the run's error names. */
export async function firstFailedCanary(sql: Sql, runId: string, canaryCount: number): Promise<{ targetName: string; status: JobStatus } | undefined> {
  const [row] = await sql<{ target_name: string; status: JobStatus }[]>`
    select target_name, status from jobs
    where run_id = ${runId} and run_index < ${canaryCount} and status in ${sql(TERMINAL)} and status <> 'succeeded'
    order by run_index limit 1`;
  return row ? { targetName: row.target_name, status: row.status } : undefined;
}
