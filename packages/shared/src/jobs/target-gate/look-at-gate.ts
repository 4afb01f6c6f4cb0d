import type { Sql } from 'postgres';
import type { JobRow } from '../job-view.ts';
import { rowToJob, toDate } from '../row-to-job.ts';

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
 * The counts go over the non-terminal jobs of the target (jobs_active_idx, or the target's own
 * index where the planner prefers it): the few `queued`/`running` jobs, never its history.
 */
export async function lookAtGate(sql: Sql, jobId: string): Promise<GateLook | undefined> {
  const [row] = await sql`
    select j.*,
      coalesce(a.max_concurrent_jobs, h.max_concurrent_jobs) as gate_limit,
      a.last_seen_at as gate_agent_last_seen_at,
      case when coalesce(a.max_concurrent_jobs, h.max_concurrent_jobs) is not null and j.status = 'queued' then (
        select count(*)::int from jobs w
        where w.status = 'queued' and w.released_at is not null
          and (w.agent_id = j.agent_id or (j.agent_id is null and w.host_id = j.host_id))
          and (w.created_at, w.id) < (j.created_at, j.id)
      ) end as gate_ahead,
      case when coalesce(a.max_concurrent_jobs, h.max_concurrent_jobs) is not null and j.status = 'queued' then (
        select count(*)::int from jobs r
        where r.status = 'running'
          and (r.agent_id = j.agent_id or (j.agent_id is null and r.host_id = j.host_id))
      ) end as gate_running
    from jobs j left join agents a on a.id = j.agent_id left join hosts h on h.id = j.host_id
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

/**
 * `queuePosition` of each job given that waits on a limited target: how many released `queued`
 * jobs of the same target are ahead of it in (created_at, id) order, 0 for the next to start.
 * Jobs not waiting so (running, ended, held by their run, on a target without a limit, local) are
 * absent. One query for the lot, none when no job given is `queued`.
 */
export async function queuePositions(sql: Sql, jobs: readonly Pick<JobRow, 'id' | 'status' | 'releasedAt' | 'agentId' | 'hostId'>[]): Promise<Map<string, number>> {
  const ids = jobs.filter((j) => j.status === 'queued' && j.releasedAt !== null && (j.agentId || j.hostId)).map((j) => j.id);
  if (ids.length === 0) return new Map();
  const rows = await sql<{ id: string; ahead: number }[]>`
    select j.id, (
      select count(*)::int from jobs w
      where w.status = 'queued' and w.released_at is not null
        and (w.agent_id = j.agent_id or (j.agent_id is null and w.host_id = j.host_id))
        and (w.created_at, w.id) < (j.created_at, j.id)
    ) as ahead
    from jobs j left join agents a on a.id = j.agent_id left join hosts h on h.id = j.host_id
    where j.id in ${sql(ids)} and j.status = 'queued' and j.released_at is not null
      and coalesce(a.max_concurrent_jobs, h.max_concurrent_jobs) is not null`;
  return new Map(rows.map((r) => [r.id, r.ahead]));
}

/** One job's `queuePosition` (see queuePositions); null when it is not waiting on a limited target. */
export async function queuePositionOf(sql: Sql, job: Pick<JobRow, 'id' | 'status' | 'releasedAt' | 'agentId' | 'hostId'>): Promise<number | null> {
  return (await queuePositions(sql, [job])).get(job.id) ?? null;
}
