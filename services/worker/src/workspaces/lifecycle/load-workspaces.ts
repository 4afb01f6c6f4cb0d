import type postgres from 'postgres';
import { workspaceStatus, type OperationStatus, type OperationType, type WorkspaceStatus } from '@vmo/shared/domain';
import { toDate } from '@vmo/shared/schedules';
import { START_OPERATION_TYPES, type LifecycleSettings, type OperationSeen } from '@vmo/shared/workspaces';

/** What one pass reads of a live workspace (every time a Date). */
export interface LoadedWorkspace {
  id: string;
  agentId: string | null;
  /** The template version it runs (a start records it, as a person's start does). */
  templateVersion: number;
  status: WorkspaceStatus;
  latest: OperationSeen | null;
  lastStart: OperationSeen | null;
  deadlineAt: Date | null;
  maxDeadlineAt: Date | null;
  lastActiveAt: Date;
  dormantAt: Date | null;
  autostart: { cron: string; timezone: string; nextAt: Date | null } | null;
  /** A shell session open or a job running on its agent. */
  active: boolean;
  settings: LifecycleSettings;
}

type Ts = string | Date;
interface Row {
  id: string;
  agent_id: string | null;
  template_version: number;
  deadline_at: Ts | null;
  max_deadline_at: Ts | null;
  last_active_at: Ts;
  dormant_at: Ts | null;
  autostart_cron: string | null;
  autostart_timezone: string;
  autostart_next_at: Ts | null;
  ttl_ms: string | number | null;
  max_deadline_ms: string | number | null;
  activity_bump_ms: string | number | null;
  idle_timeout_ms: string | number | null;
  failure_ttl_ms: string | number | null;
  time_til_dormant_ms: string | number | null;
  time_til_dormant_autodelete_ms: string | number | null;
  lo_id: string | null;
  lo_type: OperationType | null;
  lo_status: OperationStatus | null;
  lo_created_at: Ts | null;
  lo_ended_at: Ts | null;
  ls_id: string | null;
  ls_type: OperationType | null;
  ls_status: OperationStatus | null;
  ls_created_at: Ts | null;
  ls_ended_at: Ts | null;
  active: boolean;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));
const op = (id: string | null, type: OperationType | null, status: OperationStatus | null, createdAt: Ts | null, endedAt: Ts | null): OperationSeen | null =>
  id === null ? null : { id, type: type!, status: status!, createdAt: toDate(createdAt!), endedAt: toDate(endedAt) };

/**
 * Every live workspace with its latest operation, its latest start, its template version's
 * settings (the workspace's own TTL and idle timeout first) and whether its agent is in use now:
 * an open shell session on it (shell_sessions.target_id, ended_at null) or a job running on it
 * (jobs.agent_id, status running: Coder counts only connections; long jobs stopped under their
 * users is coder/coder#15515), or a job or session that ended since last_active_at. One statement, a seek per workspace into each index. `onlyId`: that
 * one workspace again (a decision's re-check under its row's lock).
 */
export async function loadWorkspaces(sql: postgres.Sql | postgres.TransactionSql, onlyId?: string): Promise<LoadedWorkspace[]> {
  const rows = await sql<Row[]>`
    select w.id, w.agent_id, w.template_version, w.deadline_at, w.max_deadline_at, w.last_active_at, w.dormant_at,
           w.autostart_cron, w.autostart_timezone, w.autostart_next_at,
           coalesce(w.ttl_ms, tv.default_ttl_ms) as ttl_ms, tv.max_deadline_ms, tv.activity_bump_ms,
           coalesce(w.idle_timeout_ms, tv.idle_timeout_ms) as idle_timeout_ms, tv.failure_ttl_ms,
           tv.time_til_dormant_ms, tv.time_til_dormant_autodelete_ms,
           lo.id as lo_id, lo.type as lo_type, lo.status as lo_status, lo.created_at as lo_created_at, lo.ended_at as lo_ended_at,
           ls.id as ls_id, ls.type as ls_type, ls.status as ls_status, ls.created_at as ls_created_at, ls.ended_at as ls_ended_at,
           (w.agent_id is not null and (
              exists (select 1 from shell_sessions s where s.target_id = w.agent_id and s.ended_at is null)
              or exists (select 1 from jobs j where j.agent_id = w.agent_id and j.status = 'running')
              -- A job that started and ended between two passes (most jobs last under a second) is
              -- activity too, or a workspace used only by short jobs would be stopped as idle. The
              -- created_at bound keeps this a short seek on jobs_agent_created_idx: a job queued
              -- longer ago than that and seen by no pass while running is too rare to matter.
              or exists (select 1 from jobs j where j.agent_id = w.agent_id and j.created_at > w.last_active_at - interval '1 day'
                           and j.finished_at > w.last_active_at)
              or exists (select 1 from shell_sessions s where s.target_id = w.agent_id and s.ended_at > w.last_active_at))) as active
    from workspaces w
    left join template_versions tv on tv.template_id = w.template_id and tv.version = w.template_version
    left join lateral (
      select o.id, o.type, o.status, o.created_at, o.ended_at from workspace_operations o
      where o.workspace_id = w.id order by o.created_at desc, o.id desc limit 1) lo on true
    left join lateral (
      select o.id, o.type, o.status, o.created_at, o.ended_at from workspace_operations o
      where o.workspace_id = w.id and o.type in ${sql(START_OPERATION_TYPES)} order by o.created_at desc, o.id desc limit 1) ls on true
    where w.deleted_at is null ${onlyId === undefined ? sql`` : sql`and w.id = ${onlyId}`}
    order by w.id`;
  return rows.map((r) => {
    const latest = op(r.lo_id, r.lo_type, r.lo_status, r.lo_created_at, r.lo_ended_at);
    return {
      id: r.id,
      agentId: r.agent_id,
      templateVersion: r.template_version,
      status: workspaceStatus(latest),
      latest,
      lastStart: op(r.ls_id, r.ls_type, r.ls_status, r.ls_created_at, r.ls_ended_at),
      deadlineAt: toDate(r.deadline_at),
      maxDeadlineAt: toDate(r.max_deadline_at),
      lastActiveAt: toDate(r.last_active_at),
      dormantAt: toDate(r.dormant_at),
      autostart: r.autostart_cron ? { cron: r.autostart_cron, timezone: r.autostart_timezone, nextAt: toDate(r.autostart_next_at) } : null,
      active: r.active,
      settings: {
        ttlMs: num(r.ttl_ms),
        maxDeadlineMs: num(r.max_deadline_ms),
        activityBumpMs: num(r.activity_bump_ms),
        idleTimeoutMs: num(r.idle_timeout_ms),
        failureTtlMs: num(r.failure_ttl_ms),
        timeTilDormantMs: num(r.time_til_dormant_ms),
        timeTilDormantAutodeleteMs: num(r.time_til_dormant_autodelete_ms),
      },
    };
  });
}
