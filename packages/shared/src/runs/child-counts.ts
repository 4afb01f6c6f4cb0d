import type postgres from 'postgres';
import { isTerminal, JOB_STATUSES, type JobStatus } from '../domain/job-status.ts';

/** A pool or a transaction (the roll-up counts inside its own, the run stream inside its snapshot). */
type Sql = postgres.ISql;

/*
 * A run's children counted by status: the ONE place they are counted. The roll-up decides from
 * it, GET /v1/runs/{id} answers it and the run stream's `progress` sends it, so the three can
 * never disagree on what a count means.
 *
 * One group per status over jobs_run_idx (run_id, run_index), never a row per child: a handful
 * of groups whatever the size of the run. Beside each group's count, what the roll-up needs of
 * it (never released, skipped as offline, canaries, first start); the other readers ignore those.
 */

/**
 * The groups as one jsonb text (`{"<status>": {n, held, offline, canaries, first_started_at}}`),
 * a scalar subquery correlated to the `runs` row of the statement it is put in: select it
 * `from runs where runs.id = …`. Text, so every driver hands over one string whatever its jsonb
 * parsing (drizzle replaces some parsers).
 *
 * LOUD: `runs.id` and `runs.strategy` spelled out; a bare `id` would be read as `j.id` (every
 * count 0). The canary count is read from the run's own resolved strategy.
 */
export const CHILD_GROUPS_SQL = `(
  select coalesce(jsonb_object_agg(g.status, to_jsonb(g) - 'status'), '{}'::jsonb)::text
  from (
    select j.status,
           count(*)::int as n,
           count(*) filter (where j.released_at is null)::int as held,
           count(*) filter (where j.error_code = 'target_offline')::int as offline,
           count(*) filter (where j.run_index < coalesce((runs.strategy #>> '{canary,count}')::int, 0))::int as canaries,
           min(j.started_at) as first_started_at
    from jobs j
    where j.run_id = runs.id
    group by j.status) g)`;

/** One status's children. */
export interface ChildGroup {
  n: number;
  /** Never released (only `queued` children can be). */
  held: number;
  /** Ended with error `target_offline` (only `skipped` children under `offline: "skip"`). */
  offline: number;
  /** Canaries: run_index below the run's canary count. */
  canaries: number;
  firstStartedAt: Date | null;
}
export type ChildGroups = Partial<Record<JobStatus, ChildGroup>>;

/** CHILD_GROUPS_SQL's text, decoded. */
export function parseChildGroups(text: string): ChildGroups {
  const raw = JSON.parse(text) as Record<string, { n: number; held: number; offline: number; canaries: number; first_started_at: string | null }>;
  const groups: ChildGroups = {};
  for (const [status, g] of Object.entries(raw)) {
    groups[status as JobStatus] = { n: g.n, held: g.held, offline: g.offline, canaries: g.canaries, firstStartedAt: g.first_started_at === null ? null : new Date(g.first_started_at) };
  }
  return groups;
}

/** The groups of the run and Postgres' clock, or undefined when there is no such run. */
export async function readChildGroups(sql: Sql, runId: string): Promise<{ groups: ChildGroups; now: Date } | undefined> {
  const [row] = await sql<{ groups: string; now: Date | string }[]>`
    select ${sql.unsafe(CHILD_GROUPS_SQL)} as groups, clock_timestamp() as now from runs where runs.id = ${runId}`;
  return row ? { groups: parseChildGroups(row.groups), now: new Date(row.now) } : undefined;
}

/** Children by status: every status a job can have, 0 included. */
export type RunCounts = Record<JobStatus, number>;

/** Every status at 0, then the ones counted: a status no child has is still answered (0), so a client never meets a missing key. */
export function fillRunCounts(counted: Partial<Record<string, number>>): RunCounts {
  return Object.fromEntries(JOB_STATUSES.map((s) => [s, counted[s] ?? 0])) as RunCounts;
}

/** The groups as GET /v1/runs/{id} and the run stream show them: a count per status, every status present. */
export function countsOf(groups: ChildGroups): RunCounts {
  return fillRunCounts(Object.fromEntries(Object.entries(groups).map(([s, g]) => [s, g.n])));
}

/** The run's children counted by status (every status present), or undefined when there is no such run. */
export async function readRunCounts(sql: Sql, runId: string): Promise<RunCounts | undefined> {
  const read = await readChildGroups(sql, runId);
  return read ? countsOf(read.groups) : undefined;
}

/** How far the run has got: children in a terminal status, of all of them. */
export function runProgress(counts: RunCounts, total: number): { done: number; total: number } {
  const done = JOB_STATUSES.filter(isTerminal).reduce((n, s) => n + counts[s], 0);
  return { done, total };
}

/** What the roll-up decides from (decide-roll-up.ts), derived from the groups. */
export interface ChildCounts {
  total: number;
  /** `queued` and never released: the run's rate control still holds them. */
  held: number;
  /** `queued` (held, or released and not yet started). */
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

/** The statuses maxErrors counts as failures. */
const FAILURE_STATUSES: readonly JobStatus[] = ['failed', 'timed_out', 'lost'];

/** LOUD: the run's state is derived from these, read afresh each roll-up, never kept in memory. */
export function childCounts(groups: ChildGroups, now: Date): ChildCounts {
  const of = (s: JobStatus) => groups[s] ?? { n: 0, held: 0, offline: 0, canaries: 0, firstStartedAt: null };
  const sum = (statuses: readonly JobStatus[], pick: (g: ChildGroup) => number) => statuses.reduce((n, s) => n + pick(of(s)), 0);
  const terminal = JOB_STATUSES.filter(isTerminal);
  const starts = JOB_STATUSES.map((s) => of(s).firstStartedAt?.getTime()).filter((t): t is number => t !== undefined);
  return {
    total: sum(JOB_STATUSES, (g) => g.n),
    held: of('queued').held,
    queued: of('queued').n,
    active: of('queued').n - of('queued').held + of('running').n - of('running').held,
    failures: sum(FAILURE_STATUSES, (g) => g.n),
    terminal: sum(terminal, (g) => g.n),
    ok: of('succeeded').n + of('skipped').offline,
    canaryOk: of('succeeded').canaries,
    canaryBad: sum(
      terminal.filter((s) => s !== 'succeeded'),
      (g) => g.canaries,
    ),
    firstStartedAt: starts.length === 0 ? null : new Date(Math.min(...starts)),
    now,
  };
}
