import type postgres from 'postgres';
import type { OperationReason, OperationStatus, OperationType, WorkspaceHealth, WorkspaceStatus } from '../domain/workspace.ts';
import { workspaceStatus } from '../domain/workspace.ts';
import type { Presence } from '../presence/agent-presence.ts';
import { workspaceHealth } from './workspace-health.ts';
import { iso } from './iso-time.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

export interface OperationSummary {
  id: string;
  type: OperationType;
  status: OperationStatus;
  reason: OperationReason;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export interface WorkspaceView {
  id: string;
  name: string;
  ownerId: string | null;
  ownerName: string;
  status: WorkspaceStatus;
  health: WorkspaceHealth;
  latestOperation: OperationSummary | null;
  agent: { id: string; name: string; online: boolean } | null;
  templateId: string;
  templateName: string;
  templateVersion: number;
  templateCurrentVersion: number;
  outdated: boolean;
  params: Record<string, string>;
  labels: Record<string, string>;
  ttlMs: number | null;
  idleTimeoutMs: number | null;
  autostart: { cron: string; timezone: string; nextAt: string | null } | null;
  deadlineAt: string | null;
  maxDeadlineAt: string | null;
  lastActiveAt: string;
  dormantAt: string | null;
  resources: Record<string, string | number> | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

/**
 * A workspace row with what its view needs, in one statement: its latest operation (one index
 * probe, workspace_operations_workspace_idx), its agent's name, its template's name and current
 * version and the connect timeout of the version it runs.
 */
export const WORKSPACE_COLUMNS = (sql: Sql) => sql`
  w.*, t.name as template_name, t.current_version as template_current_version, tv.agent_connect_timeout_ms,
  a.name as agent_name, a.revoked_at as agent_revoked_at,
  o.id as op_id, o.type as op_type, o.status as op_status, o.reason as op_reason, o.error_code as op_error_code,
  o.error_message as op_error_message, o.created_at as op_created_at, o.started_at as op_started_at, o.ended_at as op_ended_at
  from workspaces w
  join templates t on t.id = w.template_id
  left join template_versions tv on tv.template_id = w.template_id and tv.version = w.template_version
  left join agents a on a.id = w.agent_id
  left join lateral (
    select * from workspace_operations o where o.workspace_id = w.id order by o.created_at desc, o.id desc limit 1
  ) o on true`;

/**
 * LOUD: workspaceStatus (domain/workspace.ts) in SQL, for GET /v1/workspaces?status=. The two
 * must say the same for every (type, status): services/api/test/workspaces-api.e2e.test.ts
 * compares them on every pair.
 */
export const STATUS_SQL = (sql: Sql) => sql`(case
  when o.id is null then 'pending'
  when o.status = 'canceling' then 'canceling'
  when o.type in ('snapshot', 'restore') then 'stopped'
  when o.status = 'pending' then 'pending'
  when o.status = 'failed' then 'failed'
  when o.status = 'canceled' then 'canceled'
  when o.status = 'running' then (case when o.type = 'stop' then 'stopping' when o.type = 'delete' then 'deleting' else 'starting' end)
  else (case when o.type = 'stop' then 'stopped' when o.type = 'delete' then 'deleted' else 'running' end)
end)`;

export function operationSummaryOf(r: postgres.Row): OperationSummary | null {
  if (!r.op_id) return null;
  return {
    id: r.op_id,
    type: r.op_type,
    status: r.op_status,
    reason: r.op_reason,
    error: r.op_error_code === null ? null : { code: r.op_error_code, message: r.op_error_message ?? '' },
    createdAt: iso(r.op_created_at),
    startedAt: isoOrNull(r.op_started_at),
    endedAt: isoOrNull(r.op_ended_at),
  };
}

/** `presence`: its agent's (offline when it has none); health is workspace-health.ts's rule. */
export function workspaceView(r: postgres.Row, presence: Presence, now: Date): WorkspaceView {
  const latestOperation = operationSummaryOf(r);
  const status = workspaceStatus(latestOperation);
  const state = r.provider_state as Record<string, unknown> | null;
  const resources = state && typeof state.resources === 'object' && state.resources !== null ? (state.resources as Record<string, string | number>) : null;
  const agentLive = Boolean(r.agent_id && r.agent_name && !r.agent_revoked_at);
  const seen: Presence = agentLive ? presence : 'offline';
  return {
    id: r.id,
    name: r.name,
    ownerId: r.owner_id,
    ownerName: r.owner_name,
    status,
    // The latest operation is the one that brought it up whenever it is starting or running.
    health: workspaceHealth({ status, presence: seen, startEndedAt: latestOperation?.endedAt ?? null, agentConnectTimeoutMs: Number(r.agent_connect_timeout_ms ?? 120_000), now }),
    latestOperation,
    agent: agentLive ? { id: r.agent_id, name: r.agent_name, online: seen === 'online' } : null,
    templateId: r.template_id,
    templateName: r.template_name,
    templateVersion: r.template_version,
    templateCurrentVersion: r.template_current_version,
    outdated: r.template_version < r.template_current_version,
    params: r.params ?? {},
    labels: r.labels ?? {},
    ttlMs: r.ttl_ms === null ? null : Number(r.ttl_ms),
    idleTimeoutMs: r.idle_timeout_ms === null ? null : Number(r.idle_timeout_ms),
    autostart: r.autostart_cron ? { cron: r.autostart_cron, timezone: r.autostart_timezone, nextAt: isoOrNull(r.autostart_next_at) } : null,
    // A deadline means "stops at": only while it runs (the row keeps the last one, and the lifecycle
    // loop sets a new one from the next start's end).
    deadlineAt: status === 'running' ? isoOrNull(r.deadline_at) : null,
    maxDeadlineAt: status === 'running' ? isoOrNull(r.max_deadline_at) : null,
    lastActiveAt: iso(r.last_active_at),
    dormantAt: isoOrNull(r.dormant_at),
    resources,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    deletedAt: isoOrNull(r.deleted_at),
  };
}
