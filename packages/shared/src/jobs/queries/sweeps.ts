import type { Sql } from 'postgres';
import { DEFAULT_CANCEL_GRACE_MS, STOP_REPEAT_SLACK_MS } from '../../domain/timings.ts';

/*
 * The reads of the worker's maintenance loops: the few non-terminal jobs (jobs_active_idx),
 * at most a bounded page per round.
 */

/** Running agent jobs past their timeout (plus a margin) with no stop recorded yet. */
export async function overdueAgentJobs(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from jobs
    where status = 'running' and agent_id is not null and cancel_reason is null
      and started_at + (timeout_ms + 5000) * interval '1 millisecond' < clock_timestamp()
    limit 500`;
  return rows.map((r) => r.id);
}

/** Running agent jobs whose stop was recorded long enough ago that the agent should have obeyed (domain/timings.ts stopRepeatAfterMs). */
export async function unheededAgentStops(sql: Sql): Promise<{ id: string; agentId: string; graceMs: number | null }[]> {
  const rows = await sql<{ id: string; agent_id: string; cancel_grace_ms: number | null }[]>`
    select id, agent_id, cancel_grace_ms from jobs
    where status = 'running' and agent_id is not null and cancel_reason is not null
      and cancel_requested_at < clock_timestamp() - (coalesce(cancel_grace_ms, ${DEFAULT_CANCEL_GRACE_MS}) + ${STOP_REPEAT_SLACK_MS}) * interval '1 millisecond'
    limit 500`;
  return rows.map((r) => ({ id: r.id, agentId: r.agent_id, graceMs: r.cancel_grace_ms }));
}

/** Running agent jobs (started over `graceMs` ago) whose agent has not been seen for `graceMs`. */
export async function agentJobsUnseenFor(sql: Sql, graceMs: number): Promise<{ id: string; attempt: number; agentId: string }[]> {
  const rows = await sql<{ id: string; attempt: number; agent_id: string }[]>`
    select j.id, j.attempt, j.agent_id from jobs j join agents a on a.id = j.agent_id
    where j.status = 'running'
      and coalesce(a.last_seen_at, j.started_at) < clock_timestamp() - ${graceMs} * interval '1 millisecond'
      and j.started_at < clock_timestamp() - ${graceMs} * interval '1 millisecond'
    limit 500`;
  return rows.map((r) => ({ id: r.id, attempt: r.attempt, agentId: r.agent_id }));
}

/** Running jobs that live inside a worker (local, ssh), started over `olderThanMs` ago. */
export async function runningWorkerJobs(sql: Sql, olderThanMs: number): Promise<{ id: string; attempt: number; workerId: string | null }[]> {
  const rows = await sql<{ id: string; attempt: number; worker_id: string | null }[]>`
    select id, attempt, worker_id from jobs
    where status = 'running' and agent_id is null
      and started_at < clock_timestamp() - ${olderThanMs} * interval '1 millisecond'
    limit 1000`;
  return rows.map((r) => ({ id: r.id, attempt: r.attempt, workerId: r.worker_id }));
}

/** Where a walk over the released `queued` jobs stands: the (released_at, id) of the last job read. */
export interface ReleasedPlace {
  /** `released_at` as Postgres wrote it (text, to the microsecond): a JS Date keeps only milliseconds, and a run releases many children in one. */
  releasedAt: string;
  id: string;
}

/**
 * One page of the queued jobs released over `minAgeMs` ago, in (released_at, id) order after
 * `after` (from the first when absent): the reconciler re-enqueues those BullMQ lost, walking the
 * whole list page by page across its passes (keyset, so a page costs the same wherever it is:
 * jobs_released_idx). A single job is released as it is inserted; a run's child only when its
 * run's roll-up lets it go. Fewer than `limit` rows: the walk has reached the end.
 *
 * LOUD: `released_at is not null` is what holds a run's rate control: a held child enqueued here
 * would start past its run's maxConcurrency, before its canaries, or after its run was stopped.
 */
export async function queuedJobsOlderThan(
  sql: Sql,
  minAgeMs: number,
  page: { after?: ReleasedPlace; limit: number },
): Promise<{ id: string; agentId: string | null; priority: number; place: ReleasedPlace }[]> {
  const after = page.after;
  const rows = await sql<{ id: string; agent_id: string | null; priority: number; released_key: string }[]>`
    select id, agent_id, priority, released_at::text as released_key from jobs
    where status = 'queued' and released_at is not null and released_at < clock_timestamp() - ${minAgeMs} * interval '1 millisecond'
      ${after ? sql`and (released_at, id) > (${after.releasedAt}::timestamptz, ${after.id})` : sql``}
    order by released_at, id
    limit ${page.limit}`;
  return rows.map((r) => ({ id: r.id, agentId: r.agent_id, priority: r.priority, place: { releasedAt: r.released_key, id: r.id } }));
}
