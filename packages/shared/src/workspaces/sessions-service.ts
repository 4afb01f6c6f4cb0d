import type { ControlPlane } from '../control-plane/control-plane.ts';
import { newId } from '../domain/ids.ts';
import type { WorkspaceSessionStatus } from '../domain/workspace.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import { toDate, ts } from '../schedules/timestamp.ts';
import { sessionEndAt, sessionPrepareAt, sessionsOverlap } from './lifecycle-rules.ts';
import { MAX_SESSION_AHEAD_MS, type CreateWorkspaceSessionInput } from './sessions-input.ts';

/**
 * Scheduled sessions (POST/GET/DELETE /v1/workspaces/{id}/sessions). These functions only book and
 * cancel rows; the worker's lifecycle loop (services/worker/src/workspaces/lifecycle) starts and
 * stops the workspace for them. The caller (the route) has checked that the caller may see the
 * workspace.
 */

/** Sessions that still hold a time slot (an overlap with one of these is 409). */
export const OPEN_SESSION_STATUSES = ['scheduled', 'preparing', 'active'] as const satisfies readonly WorkspaceSessionStatus[];

/** A session as the API answers it (the WorkspaceSession contract of @vmo/shared/api). */
export interface WorkspaceSession {
  id: string;
  workspaceId: string;
  startAt: string;
  endAt: string;
  prepareAt: string;
  durationMs: number;
  prepareLeadMs: number;
  status: WorkspaceSessionStatus;
  createdBy: string | null;
  createdAt: string;
  canceledAt: string | null;
  startOperationId: string | null;
  stopOperationId: string | null;
}

export interface SessionRow {
  id: string;
  workspace_id: string;
  start_at: string | Date;
  duration_ms: number | string;
  prepare_lead_ms: number | string;
  status: WorkspaceSessionStatus;
  created_by: string | null;
  created_at: string | Date;
  canceled_at: string | Date | null;
  start_operation_id: string | null;
  stop_operation_id: string | null;
}

export function sessionView(r: SessionRow): WorkspaceSession {
  const w = { startAt: toDate(r.start_at), durationMs: Number(r.duration_ms), prepareLeadMs: Number(r.prepare_lead_ms) };
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    startAt: w.startAt.toISOString(),
    endAt: sessionEndAt(w).toISOString(),
    prepareAt: sessionPrepareAt(w).toISOString(),
    durationMs: w.durationMs,
    prepareLeadMs: w.prepareLeadMs,
    status: r.status,
    createdBy: r.created_by,
    createdAt: toDate(r.created_at).toISOString(),
    canceledAt: r.canceled_at === null ? null : toDate(r.canceled_at).toISOString(),
    startOperationId: r.start_operation_id,
    stopOperationId: r.stop_operation_id,
  };
}

/**
 * Book a session. 400 naming `startAt` when it is not in the future (by `now`, the caller's clock:
 * tests pass one) or more than a year ahead; 409 `session_overlap` when its window (prepare to end)
 * meets an open session's. The overlap check and the insert run under the workspace row's lock, so
 * two bookings at once cannot both take the same slot.
 */
export async function createWorkspaceSession(
  cp: ControlPlane,
  workspaceId: string,
  input: CreateWorkspaceSessionInput,
  actor: { name: string },
  now: Date = new Date(),
): Promise<WorkspaceSession> {
  const startAt = new Date(input.startAt);
  if (!(startAt > now)) throw badRequest('validation_failed', `startAt: must be in the future (it is ${startAt.toISOString()}, now is ${now.toISOString()})`, { field: 'startAt' });
  if (startAt.getTime() - now.getTime() > MAX_SESSION_AHEAD_MS) throw badRequest('validation_failed', 'startAt: must be at most a year ahead', { field: 'startAt' });
  const wanted = { startAt, durationMs: input.durationMs, prepareLeadMs: input.prepareLeadMs };
  return cp.database.sql.begin(async (tx) => {
    const [ws] = await tx<{ deleted_at: string | null }[]>`select deleted_at from workspaces where id = ${workspaceId} for update`;
    if (!ws || ws.deleted_at) throw notFound('workspace', workspaceId);
    // The open sessions of one workspace are few: all of them, and the exact rule in JS.
    const open = await tx<SessionRow[]>`
      select * from workspace_sessions
      where workspace_id = ${workspaceId} and status in ('scheduled', 'preparing', 'active')
      order by start_at`;
    const clash = open.find((r) => sessionsOverlap(wanted, { startAt: toDate(r.start_at), durationMs: Number(r.duration_ms), prepareLeadMs: Number(r.prepare_lead_ms) }));
    if (clash) {
      const v = sessionView(clash);
      throw new AppError(409, 'session_overlap', `the workspace already has session ${v.id} from ${v.prepareAt} (its start lead) to ${v.endAt}; a session's window (startAt - prepareLeadMs to startAt + durationMs) may not overlap another's`, { sessionId: v.id });
    }
    const [row] = await tx<SessionRow[]>`
      insert into workspace_sessions (id, workspace_id, start_at, duration_ms, prepare_lead_ms, created_by)
      values (${newId('wse')}, ${workspaceId}, ${ts(startAt)}::timestamptz, ${input.durationMs}, ${input.prepareLeadMs}, ${actor.name})
      returning *`;
    return sessionView(row!);
  });
}

/** GET: soonest first; `upcoming` only those not yet ended or canceled. */
export async function listWorkspaceSessions(cp: ControlPlane, workspaceId: string, q: { limit: number; upcoming?: boolean }): Promise<{ items: WorkspaceSession[] }> {
  const sql = cp.database.sql;
  const rows = await sql<SessionRow[]>`
    select * from workspace_sessions
    where workspace_id = ${workspaceId} ${q.upcoming ? sql`and status in ('scheduled', 'preparing', 'active')` : sql``}
    order by start_at, id
    limit ${q.limit}`;
  return { items: rows.map(sessionView) };
}

/**
 * DELETE: the session stops acting on the workspace (the loop only acts on open sessions). A
 * canceled one again: no-op; an ended or failed one: 409. An unknown id, or one of another
 * workspace: 404. Only the session's row is locked (never the workspace's: the loop holds a
 * session's lock while it requests an operation, which takes the workspace's).
 */
export async function cancelWorkspaceSession(cp: ControlPlane, workspaceId: string, sessionId: string): Promise<void> {
  const sql = cp.database.sql;
  const [row] = await sql<{ status: WorkspaceSessionStatus; changed: boolean }[]>`
    with target as (select id, status from workspace_sessions where id = ${sessionId} and workspace_id = ${workspaceId} for update),
         done as (update workspace_sessions s set status = 'canceled', canceled_at = clock_timestamp()
                  from target where s.id = target.id and target.status in ('scheduled', 'preparing', 'active') returning s.id)
    select target.status, exists(select 1 from done) as changed from target`;
  if (!row) throw notFound('session', sessionId);
  if (row.changed || row.status === 'canceled') return;
  throw new AppError(409, 'invalid_transition', `the session has ${row.status === 'ended' ? 'ended' : 'failed'}: there is nothing to cancel`);
}
