import type { Sql } from 'postgres';
import type { JobRow } from '../job-view.ts';
import { rowToJob, toDate } from '../row-to-job.ts';
import { aheadOfRowSql, runningOnRowTargetSql, targetJoinsSql, targetLimitSql } from './line.ts';

/** A job as the worker's dispatch sees it when it could not start it at once. */
export interface GateLook {
  job: JobRow;
  /** Its target's `max_concurrent_jobs` now; null: no limit (or a local job). */
  limit: number | null;
  /** When its agent's heartbeat was last written (agent jobs only): an offline agent went away about then. */
  agentLastSeenAt: Date | null;
  /** Limited and `queued` only: its target's released `queued` jobs ahead of it (the queue position), and its running ones. */
  ahead: number | null;
  running: number | null;
}

/**
 * The job with its target's limit and, when limited and waiting, its place in line: one read by
 * primary key (the counts run only for a limited job still `queued`).
 *
 * The counts go over the target's own active jobs (line.ts: jobs_agent_line_idx or
 * jobs_host_line_idx), never its history nor every active job.
 */
export async function lookAtGate(sql: Sql, jobId: string): Promise<GateLook | undefined> {
  const limit = targetLimitSql(sql);
  const [row] = await sql`
    select j.*,
      ${limit} as gate_limit,
      gate_a.last_seen_at as gate_agent_last_seen_at,
      case when ${limit} is not null and j.status = 'queued' then ${aheadOfRowSql(sql, 'j')} end as gate_ahead,
      case when ${limit} is not null and j.status = 'queued' then ${runningOnRowTargetSql(sql, 'j')} end as gate_running
    from jobs j ${targetJoinsSql(sql, 'j')}
    where j.id = ${jobId}`;
  if (!row) return undefined;
  return {
    job: rowToJob(row),
    limit: row.gate_limit ?? null,
    agentLastSeenAt: row.gate_agent_last_seen_at ? toDate(row.gate_agent_last_seen_at) : null,
    ahead: row.gate_ahead ?? null,
    running: row.gate_running ?? null,
  };
}

/** Whether the gate would let the job through now (what a refused job checks once it is back in the delayed set). */
export const gateOpen = (look: GateLook): boolean =>
  look.job.status === 'queued' && (look.limit === null || (look.running ?? 0) + (look.ahead ?? 0) < look.limit);

/** The jobs that have a `queuePosition`: released, `queued`, on an agent or a host (whose limit the query checks). */
const mayWaitInLine = (j: Pick<JobRow, 'status' | 'releasedAt' | 'agentId' | 'hostId'>): boolean =>
  j.status === 'queued' && j.releasedAt !== null && (j.agentId !== null || j.hostId !== null);

/**
 * `queuePosition` of the row under alias `j` (joined with targetJoinsSql): how many released
 * `queued` jobs of its target are ahead of it in line order (line.ts), 0 for the next to start;
 * null when it is not waiting so (running, ended, held by its run, on a target without a limit,
 * local). Counted only for a job waiting on a limited target.
 */
export const queuePositionSql = (sql: Sql, j: string) =>
  sql`case when ${sql(j)}.status = 'queued' and ${sql(j)}.released_at is not null and ${targetLimitSql(sql)} is not null then ${aheadOfRowSql(sql, j)} end`;

/**
 * `queuePosition` of each job given that waits on a limited target (queuePositionSql). Jobs not
 * waiting so are absent. One query for the lot, none when no job given is `queued` on a target.
 */
export async function queuePositions(sql: Sql, jobs: readonly Pick<JobRow, 'id' | 'status' | 'releasedAt' | 'agentId' | 'hostId'>[]): Promise<Map<string, number>> {
  const ids = jobs.filter(mayWaitInLine).map((j) => j.id);
  if (ids.length === 0) return new Map();
  const rows = await sql<{ id: string; ahead: number | null }[]>`
    select j.id, ${queuePositionSql(sql, 'j')} as ahead
    from jobs j ${targetJoinsSql(sql, 'j')}
    where j.id in ${sql(ids)}`;
  return new Map(rows.filter((r) => r.ahead !== null).map((r) => [r.id, r.ahead!]));
}
