import type postgres from 'postgres';
import { TERMINAL_STATUSES, type JobStatus } from '../domain/job-status.ts';

/** A pool or a transaction: the roll-up runs these inside its own. */
type Sql = postgres.ISql;

/*
 * The reads (and the one write that is not a status: the release) of a run's children that the
 * roll-up and the cancel need, each over jobs_run_idx (run_id, run_index).
 */

const TERMINAL = TERMINAL_STATUSES as readonly string[] as string[];

/** What the roll-up decides from: its children counted by status and released-ness, in one pass. */
export interface ChildCounts {
  total: number;
  /** `queued` and never released: the run's rate control still holds them. */
  held: number;
  /** `queued` (held or released). */
  queued: number;
  /** Released and not terminal: dispatched or waiting for their target, running, or stopping. */
  active: number;
  /** `failed | timed_out | lost`: what maxErrors counts. */
  failures: number;
  terminal: number;
  /** `succeeded`, or `skipped` because the target was offline under `offline: "skip"`. */
  ok: number;
  /** Canaries (run_index < the canary count) that succeeded, and that ended any other way. */
  canaryOk: number;
  canaryBad: number;
  firstStartedAt: Date | null;
  /** Postgres' clock: every process judges the bake by the same one. */
  now: Date;
}

/** LOUD: the run's state is derived from these, read afresh each roll-up, never kept in memory. */
export async function countChildren(sql: Sql, runId: string, canaryCount: number): Promise<ChildCounts> {
  const [c] = await sql<{
    total: number;
    held: number;
    queued: number;
    active: number;
    failures: number;
    terminal: number;
    ok: number;
    canary_ok: number;
    canary_bad: number;
    first_started_at: Date | string | null;
    now: Date | string;
  }[]>`
    select
      count(*)::int as total,
      count(*) filter (where status = 'queued' and released_at is null)::int as held,
      count(*) filter (where status = 'queued')::int as queued,
      count(*) filter (where status in ('queued', 'running') and released_at is not null)::int as active,
      count(*) filter (where status in ('failed', 'timed_out', 'lost'))::int as failures,
      count(*) filter (where status in ${sql(TERMINAL)})::int as terminal,
      count(*) filter (where status = 'succeeded' or (status = 'skipped' and error_code = 'target_offline'))::int as ok,
      count(*) filter (where run_index < ${canaryCount} and status = 'succeeded')::int as canary_ok,
      count(*) filter (where run_index < ${canaryCount} and status in ${sql(TERMINAL)} and status <> 'succeeded')::int as canary_bad,
      min(started_at) as first_started_at,
      clock_timestamp() as now
    from jobs where run_id = ${runId}`;
  return {
    total: c!.total,
    held: c!.held,
    queued: c!.queued,
    active: c!.active,
    failures: c!.failures,
    terminal: c!.terminal,
    ok: c!.ok,
    canaryOk: c!.canary_ok,
    canaryBad: c!.canary_bad,
    firstStartedAt: c!.first_started_at === null ? null : new Date(c!.first_started_at),
    now: new Date(c!.now),
  };
}

/**
 * Release up to `count` held children in run_index order (below `beforeIndex`: the canaries
 * alone): they may now be dispatched. Not a status change (they stay `queued`); the caller
 * enqueues them after its transaction commits, and the reconciler does if that enqueue is lost.
 */
export async function releaseChildren(sql: Sql, runId: string, count: number, beforeIndex: number | null): Promise<{ id: string; agentId: string | null }[]> {
  if (count <= 0) return [];
  const rows = await sql<{ id: string; agent_id: string | null }[]>`
    update jobs set released_at = clock_timestamp()
    where id in (
      select id from jobs
      where run_id = ${runId} and status = 'queued' and released_at is null
        ${beforeIndex === null ? sql`` : sql`and run_index < ${beforeIndex}`}
      order by run_index
      limit ${count})
    returning id, agent_id`;
  return rows.map((r) => ({ id: r.id, agentId: r.agent_id }));
}

/** The first canary that ended other than `succeeded`: what the run's error names. */
export async function firstFailedCanary(sql: Sql, runId: string, canaryCount: number): Promise<{ targetName: string; status: JobStatus } | undefined> {
  const [row] = await sql<{ target_name: string; status: JobStatus }[]>`
    select target_name, status from jobs
    where run_id = ${runId} and run_index < ${canaryCount} and status in ${sql(TERMINAL)} and status <> 'succeeded'
    order by run_index limit 1`;
  return row ? { targetName: row.target_name, status: row.status } : undefined;
}

/** The run's running children: a cancel stops each as a single job's cancel does. */
export async function runningChildren(sql: Sql, runId: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from jobs where run_id = ${runId} and status = 'running' order by run_index`;
  return rows.map((r) => r.id);
}

/** Running children of a canceled run that no stop has reached yet (a cancel cut short by a crash). */
export async function unstoppedRunningChildren(sql: Sql, runId: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from jobs where run_id = ${runId} and status = 'running' and cancel_reason is null order by run_index`;
  return rows.map((r) => r.id);
}
