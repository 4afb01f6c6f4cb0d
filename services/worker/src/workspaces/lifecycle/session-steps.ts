import type postgres from 'postgres';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { WorkspaceSessionStatus, WorkspaceStatus } from '@vmo/shared/domain';
import { toDate, ts } from '@vmo/shared/schedules';
import { sessionEndAt, sessionPrepareAt, type RequestedOperation } from '@vmo/shared/workspaces';
import { tryRequest, type LifecycleAction } from './try-request.ts';

/** An open session whose window has begun (its prepare time has come). */
export interface DueSession {
  id: string;
  workspaceId: string;
  status: Extract<WorkspaceSessionStatus, 'scheduled' | 'preparing' | 'active'>;
  startAt: Date;
  prepareAt: Date;
  endAt: Date;
}

/** Open sessions whose prepare time has come, by workspace (workspace_sessions_due_idx). */
export async function loadDueSessions(sql: postgres.Sql, now: Date): Promise<Map<string, DueSession[]>> {
  const rows = await sql<{ id: string; workspace_id: string; status: DueSession['status']; start_at: string | Date; duration_ms: string | number; prepare_lead_ms: string | number }[]>`
    select id, workspace_id, status, start_at, duration_ms, prepare_lead_ms from workspace_sessions
    where status in ('scheduled', 'preparing', 'active') and start_at - prepare_lead_ms * interval '1 millisecond' <= ${ts(now)}::timestamptz
    order by start_at, id`;
  const byWorkspace = new Map<string, DueSession[]>();
  for (const r of rows) {
    const w = { startAt: toDate(r.start_at), durationMs: Number(r.duration_ms), prepareLeadMs: Number(r.prepare_lead_ms) };
    const s: DueSession = { id: r.id, workspaceId: r.workspace_id, status: r.status, startAt: w.startAt, prepareAt: sessionPrepareAt(w), endAt: sessionEndAt(w) };
    byWorkspace.set(s.workspaceId, [...(byWorkspace.get(s.workspaceId) ?? []), s]);
  }
  return byWorkspace;
}

/**
 * Move a session from `from` to `to`, asking for an operation first when `request` is given, all
 * under the session row's lock taken `skip locked`: two loops on the same session at once, one
 * does it and the other skips it (and reads its new status next pass). The operation's 409 leaves
 * the session as it was, for the next pass. LOUD: only the SESSION row is locked here, never the
 * workspace's (requestOperation takes that one on its own connection; holding it here would wait
 * on ourselves).
 */
async function moveSession(
  cp: ControlPlane,
  s: DueSession,
  to: WorkspaceSessionStatus,
  request?: { type: 'start' | 'stop'; reason: 'session_start' | 'session_end'; templateVersion: number | null },
): Promise<{ moved: boolean; op: RequestedOperation | null }> {
  return cp.database.sql.begin(async (tx) => {
    const [row] = await tx`select id from workspace_sessions where id = ${s.id} and status = ${s.status} for update skip locked`;
    if (!row) return { moved: false, op: null };
    let op: RequestedOperation | null = null;
    if (request) {
      op = await tryRequest(cp, { workspaceId: s.workspaceId, ...request });
      if (!op) return { moved: false, op: null };
    }
    await tx`
      update workspace_sessions set status = ${to},
        start_operation_id = coalesce(${request?.type === 'start' ? op!.id : null}::text, start_operation_id),
        stop_operation_id = coalesce(${request?.type === 'stop' ? op!.id : null}::text, stop_operation_id)
      where id = ${s.id}`;
    return { moved: true, op };
  });
}

/** Workspace statuses a start can be asked from, and those a stop can. */
const STARTABLE: readonly WorkspaceStatus[] = ['stopped', 'failed', 'canceled'];
const STOPPABLE: readonly WorkspaceStatus[] = ['running', 'failed', 'canceled'];
/** Already up or coming up: a session needs no start of its own. */
const UP: readonly WorkspaceStatus[] = ['running', 'starting', 'pending'];
const DOWN: readonly WorkspaceStatus[] = ['stopped', 'deleted'];

/**
 * One workspace's due sessions this pass. Returns whether the workspace is inside a session's
 * window now (no automatic stop may touch it then) and the operation asked for, if any (at most
 * one per workspace per pass).
 *
 * - prepare time come, `scheduled`: start it (reason `session_start`) unless it is up already, then
 *   `preparing` (or `active` once startAt has come);
 * - startAt come, `preparing` → `active`;
 * - end come: stop it (reason `session_end`) EVEN WITH ACTIVITY, then `ended`; a session whose
 *   whole window passed while it was still `scheduled` (no worker ran, or the workspace could never
 *   be started) is `failed`.
 */
export async function stepSessions(
  cp: ControlPlane,
  w: { id: string; status: WorkspaceStatus; templateVersion: number },
  sessions: readonly DueSession[],
  now: Date,
): Promise<{ inSession: boolean; action: LifecycleAction | null }> {
  let inSession = false;
  for (const s of sessions) {
    if (now >= s.endAt) {
      if (s.status === 'scheduled') {
        await moveSession(cp, s, 'failed');
        continue;
      }
      if (DOWN.includes(w.status)) {
        await moveSession(cp, s, 'ended');
        continue;
      }
      // Busy (an operation under way): the stop comes once it has ended. Meanwhile still ours.
      if (!STOPPABLE.includes(w.status)) {
        inSession = true;
        continue;
      }
      const { op } = await moveSession(cp, s, 'ended', { type: 'stop', reason: 'session_end', templateVersion: null });
      if (op) return { inSession: true, action: { workspaceId: w.id, operationId: op.id, type: 'stop', reason: 'session_end', sessionId: s.id } };
      continue;
    }
    inSession = true;
    const target = now >= s.startAt ? 'active' : 'preparing';
    if (s.status === 'scheduled') {
      if (UP.includes(w.status)) {
        await moveSession(cp, s, target);
      } else if (STARTABLE.includes(w.status)) {
        const { op } = await moveSession(cp, s, target, { type: 'start', reason: 'session_start', templateVersion: w.templateVersion });
        if (op) return { inSession, action: { workspaceId: w.id, operationId: op.id, type: 'start', reason: 'session_start', sessionId: s.id } };
      }
      // stopping, deleting, canceling: the start comes once that has ended.
    } else if (s.status === 'preparing' && target === 'active') {
      await moveSession(cp, s, 'active');
    }
  }
  return { inSession, action: null };
}
