import type { ControlPlane } from '@vmo/shared/control-plane';
import { ts } from '@vmo/shared/schedules';
import { bumpedDeadline, deadlineAfterStart, decideLifecycle, isStartOperation, START_OPERATION_TYPES } from '@vmo/shared/workspaces';
import { DEFAULT_AUTOSTART_MISSED_AFTER_MS, stepAutostart } from './autostart.ts';
import { loadWorkspaces, type LoadedWorkspace } from './load-workspaces.ts';
import { loadDueSessions, stepSessions, type DueSession } from './session-steps.ts';
import { tryRequest, type LifecycleAction } from './try-request.ts';

export interface LifecyclePassOptions {
  /** The clock: tests drive it; every rule reads this, never Date.now(). */
  now: () => Date;
  /** An autostart tick seen later than this is let go (default 15 minutes). */
  autostartMissedAfterMs?: number;
  /** Tests: runs between a rule's decision and its request (a change committed there must be seen). */
  beforeRequest?: (workspaceId: string) => Promise<void>;
}

/** Activity is written at most this often per workspace (each pass would otherwise write every busy workspace). */
const ACTIVITY_WRITE_EVERY_MS = 1_000;

/**
 * One pass of the workspace lifecycle (issue 18, "Life without a person watching"): for each live
 * workspace, its bookkeeping (a start clears dormancy; a succeeded start sets the TTL deadline;
 * activity moves last_active_at and the deadline), then at most ONE operation, first of: a
 * scheduled session's start or end, an autostart tick, then the rules of decideLifecycle
 * (dormancy, failure clean-up, TTL, idle). Operations only through requestOperation: two passes
 * at once (two workers) make one operation, the other's request being a 409 it takes as "not
 * now". Returns what it asked for.
 */
export async function runLifecyclePass(cp: ControlPlane, opts: LifecyclePassOptions): Promise<LifecycleAction[]> {
  const now = opts.now();
  const sql = cp.database.sql;
  const [workspaces, sessions] = await Promise.all([loadWorkspaces(sql), loadDueSessions(sql, now)]);
  const actions: LifecycleAction[] = [];
  for (const w of workspaces) {
    try {
      const action = await stepWorkspace(cp, w, sessions.get(w.id) ?? [], now, opts);
      sessions.delete(w.id);
      if (action) {
        cp.log.info(action, 'workspace lifecycle: operation requested');
        actions.push(action);
      }
    } catch (err) {
      // One workspace's failure (a statement that failed) must not hold up the others.
      cp.log.warn({ workspaceId: w.id, err: (err as Error).message }, 'workspace lifecycle step failed');
    }
  }
  // Sessions of workspaces deleted meanwhile: end them (nothing to start or stop).
  for (const [workspaceId, due] of sessions) {
    await stepSessions(cp, { id: workspaceId, status: 'deleted', templateVersion: 0 }, due, now).catch((err: unknown) => cp.log.warn({ workspaceId, err: (err as Error).message }, 'workspace lifecycle: ending sessions failed'));
  }
  return actions;
}

async function stepWorkspace(cp: ControlPlane, w: LoadedWorkspace, sessions: readonly DueSession[], now: Date, opts: LifecyclePassOptions): Promise<LifecycleAction | null> {
  await keepBooks(cp, w, now);
  const session = await stepSessions(cp, w, sessions, now);
  if (session.action) return session.action;
  const autostart = await stepAutostart(cp, w, now, opts.autostartMissedAfterMs ?? DEFAULT_AUTOSTART_MISSED_AFTER_MS, opts.beforeRequest);
  if (autostart) return autostart;
  const decision = decideLifecycle({ ...w, inSession: session.inSession }, now);
  // Marked only if not used since the read (ms: what the read saw; the column has microseconds).
  if (decision.markDormant) {
    await cp.database.sql`
      update workspaces set dormant_at = ${ts(now)}::timestamptz, updated_at = clock_timestamp()
      where id = ${w.id} and dormant_at is null and date_trunc('milliseconds', last_active_at) <= ${ts(w.lastActiveAt)}::timestamptz`;
  }
  if (!decision.operation) return null;
  const { type, reason } = decision.operation;
  await opts.beforeRequest?.(w.id);
  // LOUD: the same decision again on the workspace as it is under its row's lock (a PATCHed TTL,
  // another loop's bump, activity, an operation since): a stop on a stale deadline is not made.
  const op = await tryRequest(cp, {
    workspaceId: w.id,
    type,
    reason,
    expectLatest: w.latest?.id ?? null,
    guard: async (tx) => {
      const [fresh] = await loadWorkspaces(tx, w.id);
      const again = fresh ? decideLifecycle({ ...fresh, inSession: session.inSession }, now).operation : undefined;
      return again?.type === type && again.reason === reason;
    },
  });
  return op ? { workspaceId: w.id, operationId: op.id, type, reason } : null;
}

/**
 * What the rules read, brought up to date (and `w` with it). Each write is conditional or
 * monotonic (greatest), so two passes writing at once agree.
 */
async function keepBooks(cp: ControlPlane, w: LoadedWorkspace, now: Date): Promise<void> {
  const sql = cp.database.sql;
  // A start asked for after the workspace went dormant wakes it (compared in SQL: microseconds).
  if (w.dormantAt !== null && w.lastStart !== null && w.lastStart.createdAt >= w.dormantAt) {
    const [woke] = await sql`
      update workspaces w set dormant_at = null, updated_at = clock_timestamp()
      where w.id = ${w.id} and w.dormant_at is not null
        and exists (select 1 from workspace_operations o where o.workspace_id = w.id and o.type in ${sql(START_OPERATION_TYPES)} and o.created_at > w.dormant_at)
      returning w.id`;
    if (woke) w.dormantAt = null;
  }
  // A start that succeeded gives a deadline (its end + TTL, capped at its end + maxDeadline), once.
  const latest = w.latest;
  if (w.status === 'running' && latest && isStartOperation(latest.type) && latest.status === 'succeeded') {
    const opEnd = latest.endedAt ?? latest.createdAt;
    if (w.deadlineAt === null || w.deadlineAt < opEnd) {
      const next = deadlineAfterStart(opEnd, w.settings);
      if (next.deadlineAt?.getTime() !== w.deadlineAt?.getTime() || next.maxDeadlineAt?.getTime() !== w.maxDeadlineAt?.getTime()) {
        await sql`
          update workspaces set deadline_at = ${ts(next.deadlineAt)}::timestamptz, max_deadline_at = ${ts(next.maxDeadlineAt)}::timestamptz, updated_at = clock_timestamp()
          where id = ${w.id} and (deadline_at is null or deadline_at < ${ts(opEnd)}::timestamptz)`;
        w.deadlineAt = next.deadlineAt;
        w.maxDeadlineAt = next.maxDeadlineAt;
      }
    }
  }
  // Activity: last_active_at = now, and a running workspace's deadline moved to at least now + bump
  // (never past its max, NEVER backwards: greatest() against what is stored, whoever wrote it).
  if (w.active) {
    const deadline = w.status === 'running' ? bumpedDeadline(w.deadlineAt, w.maxDeadlineAt, now, w.settings.activityBumpMs) : w.deadlineAt;
    const moved = deadline?.getTime() !== w.deadlineAt?.getTime();
    if (moved || now.getTime() - w.lastActiveAt.getTime() >= ACTIVITY_WRITE_EVERY_MS) {
      await sql`
        update workspaces set last_active_at = greatest(last_active_at, ${ts(now)}::timestamptz),
          deadline_at = case when deadline_at is null then null else greatest(deadline_at, ${ts(deadline)}::timestamptz) end
        where id = ${w.id}`;
      if (now > w.lastActiveAt) w.lastActiveAt = now;
      w.deadlineAt = deadline;
    }
  }
}
