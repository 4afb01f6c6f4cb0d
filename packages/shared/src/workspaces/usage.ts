import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { Sql } from '../db/client.ts';
import { WORKSPACE_STATUSES, workspaceStatus, type OperationStatus, type OperationType, type WorkspaceStatus } from '../domain/workspace.ts';
import { AppError, forbidden, notFound } from '../errors/app-error.ts';
import { clipIntervals, runningIntervals, type UsageOperation } from './usage-intervals.ts';

/** Who asks: an admin sees every workspace; anyone else only their own. */
export interface UsageViewer {
  admin: boolean;
  /** null: the bootstrap admin (who owns the workspaces with owner_id null). */
  userId: string | null;
  name: string;
}

export interface UsageQuery {
  /** A user id or name. */
  user?: string | undefined;
  /** A workspace id or name. */
  workspace?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export interface WorkspaceUsage {
  workspaceId: string;
  name: string;
  ownerId: string | null;
  ownerName: string;
  deleted: boolean;
  runningSeconds: number;
  jobSeconds: number;
  outputBytes: number;
  cost: number;
  /** The current template version's rate (each interval is charged at the rate of the version it ran). */
  costPerHour: number | null;
}

export interface UsageTotals {
  runningSeconds: number;
  jobSeconds: number;
  outputBytes: number;
  cost: number;
}

export interface UsageReport {
  from: string;
  to: string;
  /** min(to, now): the end of what was counted. */
  countedUntil: string;
  workspaces: WorkspaceUsage[];
  totals: UsageTotals;
}

export interface UsageOverview {
  month: { from: string; to: string };
  workspacesByStatus: Record<WorkspaceStatus, number>;
  topUsers: { ownerId: string | null; ownerName: string; runningSeconds: number; cost: number; workspaces: number }[];
  runningSecondsThisMonth: number;
  costThisMonth: number;
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;
const iso = (ms: number) => new Date(ms).toISOString();
const startOfMonthUtc = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

/** The database's clock: operation timestamps are written with it. */
async function dbNowMs(sql: Sql): Promise<number> {
  const [row] = await sql<{ ms: number }[]>`select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms`;
  return Number(row!.ms);
}

interface WorkspaceRow {
  id: string;
  name: string;
  owner_id: string | null;
  owner_name: string;
  deleted_ms: number | null;
  cost_per_hour: string | null;
}

/**
 * GET /v1/usage. The window defaults to this month so far (UTC); `to` may be in the future (what is
 * counted ends at now). Workspaces that existed at some point of the window are listed, deleted
 * ones included (their history stays). Access (chosen and documented in the contract): a non-admin
 * sees their own workspaces only, and `user` naming anyone else is 403 (not a silent narrowing:
 * a report that quietly shows something else than was asked is worse than a refusal); `workspace`
 * naming one they may not see is 404, as everywhere.
 */
export async function usageReport(cp: ControlPlane, q: UsageQuery, viewer: UsageViewer): Promise<UsageReport> {
  const sql = cp.database.sql;
  const now = await dbNowMs(sql);
  const fromMs = q.from !== undefined ? Date.parse(q.from) : startOfMonthUtc(now);
  const toMs = q.to !== undefined ? Date.parse(q.to) : now;
  if (!(toMs > fromMs)) throw new AppError(400, 'validation_failed', `to: must be after from (${iso(fromMs)})`, { field: 'to' });

  let ownerFilter: { id: string | null } | undefined = viewer.admin ? undefined : { id: viewer.userId };
  if (q.user !== undefined) {
    if (!viewer.admin) {
      if (q.user !== viewer.userId && q.user !== viewer.name) throw forbidden(`user: only admins may see the usage of another user; leave user out for your own`);
    } else {
      const [u] = await sql<{ id: string }[]>`select id from users where id = ${q.user} or name = ${q.user} order by (id = ${q.user}) desc limit 1`;
      if (!u) throw new AppError(422, 'unknown_user', `user: no user with id or name ${JSON.stringify(q.user)}; see GET /v1/users`, { field: 'user' });
      ownerFilter = { id: u.id };
    }
  }
  const owner = ownerFilter === undefined ? sql`` : sql`and w.owner_id is not distinct from ${ownerFilter.id}`;
  const workspace = q.workspace === undefined ? sql`` : sql`and (w.id = ${q.workspace} or w.name = ${q.workspace})`;
  const rows = await sql<WorkspaceRow[]>`
    select w.id, w.name, w.owner_id, w.owner_name, (extract(epoch from w.deleted_at) * 1000)::float8 as deleted_ms, tv.cost_per_hour
    from workspaces w
    left join template_versions tv on tv.template_id = w.template_id and tv.version = w.template_version
    where w.created_at < ${iso(toMs)}::timestamptz and (w.deleted_at is null or w.deleted_at > ${iso(fromMs)}::timestamptz)
      ${owner} ${workspace}
    order by w.created_at, w.id`;
  if (q.workspace !== undefined && rows.length === 0) {
    // Not visible, or no time in the window: tell them apart only for a workspace they may see.
    const [seen] = await sql`select 1 from workspaces w where (w.id = ${q.workspace} or w.name = ${q.workspace}) ${owner} limit 1`;
    if (!seen) throw notFound('workspace', q.workspace);
  }
  const workspaces = await measure(sql, rows, fromMs, toMs, now);
  return { from: iso(fromMs), to: iso(toMs), countedUntil: iso(Math.min(toMs, now)), workspaces, totals: totalsOf(workspaces) };
}

/** GET /v1/usage/overview (admins): live workspaces by derived status, and this month (UTC) so far. */
export async function usageOverview(cp: ControlPlane): Promise<UsageOverview> {
  const sql = cp.database.sql;
  const now = await dbNowMs(sql);
  const fromMs = startOfMonthUtc(now);
  const latest = await sql<{ type: OperationType | null; status: OperationStatus | null }[]>`
    select o.type, o.status from workspaces w
    left join lateral (select type, status from workspace_operations where workspace_id = w.id order by created_at desc, id desc limit 1) o on true
    where w.deleted_at is null`;
  const byStatus = Object.fromEntries(WORKSPACE_STATUSES.map((s) => [s, 0])) as Record<WorkspaceStatus, number>;
  for (const l of latest) byStatus[workspaceStatus(l.type && l.status ? { type: l.type, status: l.status } : null)]++;

  const rows = await sql<WorkspaceRow[]>`
    select w.id, w.name, w.owner_id, w.owner_name, (extract(epoch from w.deleted_at) * 1000)::float8 as deleted_ms, null::numeric as cost_per_hour
    from workspaces w
    where w.created_at < ${iso(now)}::timestamptz and (w.deleted_at is null or w.deleted_at > ${iso(fromMs)}::timestamptz)`;
  const usage = await measure(sql, rows, fromMs, now, now, { jobs: false });
  const users = new Map<string, UsageOverview['topUsers'][number]>();
  for (const u of usage) {
    const key = u.ownerId ?? '';
    const entry = users.get(key) ?? { ownerId: u.ownerId, ownerName: u.ownerName, runningSeconds: 0, cost: 0, workspaces: 0 };
    entry.runningSeconds += u.runningSeconds;
    entry.cost += u.cost;
    entry.workspaces++;
    users.set(key, entry);
  }
  const topUsers = [...users.values()]
    .map((u) => ({ ...u, runningSeconds: round(u.runningSeconds, 3), cost: round(u.cost, 6) }))
    .sort((a, b) => b.runningSeconds - a.runningSeconds || a.ownerName.localeCompare(b.ownerName))
    .slice(0, 10);
  const totals = totalsOf(usage);
  return { month: { from: iso(fromMs), to: iso(now) }, workspacesByStatus: byStatus, topUsers, runningSecondsThisMonth: totals.runningSeconds, costThisMonth: totals.cost };
}

function totalsOf(ws: readonly WorkspaceUsage[]): UsageTotals {
  const t = { runningSeconds: 0, jobSeconds: 0, outputBytes: 0, cost: 0 };
  for (const w of ws) {
    t.runningSeconds += w.runningSeconds;
    t.jobSeconds += w.jobSeconds;
    t.outputBytes += w.outputBytes;
    t.cost += w.cost;
  }
  return { runningSeconds: round(t.runningSeconds, 3), jobSeconds: round(t.jobSeconds, 3), outputBytes: t.outputBytes, cost: round(t.cost, 6) };
}

/**
 * Running seconds and cost (from the operations, usage-intervals.ts) and job seconds and output
 * bytes (from the jobs its agent ran) of each workspace in [from, min(to, now)).
 */
async function measure(sql: Sql, rows: readonly WorkspaceRow[], fromMs: number, toMs: number, nowMs: number, opts: { jobs: boolean } = { jobs: true }): Promise<WorkspaceUsage[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const to = iso(toMs);
  const from = iso(fromMs);
  const until = iso(Math.min(toMs, nowMs));
  // Each operation with the rate of the template version it built (the workspace's when it names none).
  const ops = await sql<{ workspace_id: string; type: OperationType; status: OperationStatus; created_ms: number; started_ms: number | null; ended_ms: number | null; cost_per_hour: string | null }[]>`
    select o.workspace_id, o.type, o.status,
           (extract(epoch from o.created_at) * 1000)::float8 as created_ms,
           (extract(epoch from o.started_at) * 1000)::float8 as started_ms,
           (extract(epoch from o.ended_at) * 1000)::float8 as ended_ms,
           tv.cost_per_hour
    from workspace_operations o
    join workspaces w on w.id = o.workspace_id
    left join template_versions tv on tv.template_id = w.template_id and tv.version = coalesce(o.template_version, w.template_version)
    where o.workspace_id = any(${ids}) and o.created_at < ${to}::timestamptz
      -- Nothing before the last start-like success created before the window: operations run one at
      -- a time, so every interval that began earlier had ended before it (a seek on
      -- workspace_operations_workspace_idx per workspace, not its whole history).
      and o.created_at >= coalesce((
        select max(p.created_at) from workspace_operations p
        where p.workspace_id = o.workspace_id and p.created_at < ${from}::timestamptz and p.status = 'succeeded' and p.type in ('create', 'start', 'restart', 'rebuild')
      ), '-infinity'::timestamptz)
    order by o.workspace_id, o.created_at, o.id`;
  const opsOf = new Map<string, UsageOperation[]>();
  for (const o of ops) {
    const list = opsOf.get(o.workspace_id) ?? [];
    list.push({
      type: o.type,
      status: o.status,
      createdMs: Number(o.created_ms),
      startedMs: o.started_ms === null ? null : Number(o.started_ms),
      endedMs: o.ended_ms === null ? null : Number(o.ended_ms),
      costPerHour: o.cost_per_hour === null ? null : Number(o.cost_per_hour),
    });
    opsOf.set(o.workspace_id, list);
  }

  // Jobs on the workspace's agent, every attempt (a retried job's earlier ones are in job_attempts):
  // seconds clipped to the window; output bytes (the counters, which outlive output retention)
  // counted in the window the attempt STARTED in, so adjacent windows never count them twice.
  const jobs = new Map<string, { seconds: number; bytes: number }>();
  if (opts.jobs) {
    const jobRows = await sql<{ workspace_id: string; seconds: number; bytes: string }[]>`
      with w as (select id, agent_id from workspaces where id = any(${ids}) and agent_id is not null),
      a as (
        select w.id as workspace_id, j.started_at, j.finished_at, j.output_bytes from jobs j join w on j.agent_id = w.agent_id where j.started_at is not null
        union all
        select w.id, ja.started_at, ja.finished_at, ja.output_bytes from job_attempts ja join jobs j on j.id = ja.job_id join w on j.agent_id = w.agent_id where ja.started_at is not null
      )
      select workspace_id,
             coalesce(sum(greatest(0, extract(epoch from least(coalesce(finished_at, ${until}::timestamptz), ${until}::timestamptz) - greatest(started_at, ${from}::timestamptz)))), 0)::float8 as seconds,
             coalesce(sum(output_bytes) filter (where started_at >= ${from}::timestamptz and started_at < ${to}::timestamptz), 0)::bigint as bytes
      from a
      where started_at < ${to}::timestamptz and coalesce(finished_at, ${until}::timestamptz) > ${from}::timestamptz
      group by workspace_id`;
    for (const j of jobRows) jobs.set(j.workspace_id, { seconds: Number(j.seconds), bytes: Number(j.bytes) });
  }

  return rows.map((r) => {
    const deletedMs = r.deleted_ms === null ? null : Number(r.deleted_ms);
    const running = clipIntervals(runningIntervals(opsOf.get(r.id) ?? [], deletedMs), fromMs, toMs, nowMs);
    const j = jobs.get(r.id) ?? { seconds: 0, bytes: 0 };
    return {
      workspaceId: r.id,
      name: r.name,
      ownerId: r.owner_id,
      ownerName: r.owner_name,
      deleted: deletedMs !== null,
      runningSeconds: round(running.seconds, 3),
      jobSeconds: round(j.seconds, 3),
      outputBytes: j.bytes,
      cost: round(running.cost, 6),
      costPerHour: r.cost_per_hour === null ? null : Number(r.cost_per_hour),
    };
  });
}
