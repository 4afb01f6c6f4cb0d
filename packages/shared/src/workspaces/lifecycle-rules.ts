import type { OperationReason, OperationStatus, OperationType, WorkspaceStatus } from '../domain/workspace.ts';

/**
 * The lifecycle loop's rules (issue 18, "Life without a person watching"), pure: given what the
 * loop read of a workspace and the time, what it should do. The loop (services/worker/src/
 * workspaces/lifecycle) reads, asks these, and acts only through requestOperation, so two loops
 * deciding the same thing at once still make one operation (the one-active-operation index).
 * Every time here is the loop's injected clock, never Date.now().
 */

/** Operation types that leave the machine running: their success starts a TTL. */
export const START_OPERATION_TYPES = ['create', 'start', 'restart', 'rebuild'] as const satisfies readonly OperationType[];
export const isStartOperation = (t: OperationType): boolean => (START_OPERATION_TYPES as readonly string[]).includes(t);

/** Coder's default activity bump, used when the template sets none: an hour of life per sign of use. */
export const DEFAULT_ACTIVITY_BUMP_MS = 3_600_000;

/** What the loop needs of an operation. */
export interface OperationSeen {
  id: string;
  type: OperationType;
  status: OperationStatus;
  createdAt: Date;
  endedAt: Date | null;
}

/** The rules' inputs, the workspace's values with the template version's defaults already applied. */
export interface LifecycleSettings {
  /** The workspace's TTL, else the template's default; null: no deadline. */
  ttlMs: number | null;
  maxDeadlineMs: number | null;
  activityBumpMs: number | null;
  /** The workspace's, else the template's; null: never idle-stopped. */
  idleTimeoutMs: number | null;
  failureTtlMs: number | null;
  timeTilDormantMs: number | null;
  timeTilDormantAutodeleteMs: number | null;
}

/**
 * The deadline a successful start gives: its end + TTL, capped at its end + the template's
 * maxDeadline (Coder's max_deadline). No TTL: no deadline (a max is still recorded for bumps of
 * a deadline set later, e.g. by a PATCH).
 */
export function deadlineAfterStart(opEnd: Date, s: Pick<LifecycleSettings, 'ttlMs' | 'maxDeadlineMs'>): { deadlineAt: Date | null; maxDeadlineAt: Date | null } {
  const maxDeadlineAt = s.maxDeadlineMs !== null && s.maxDeadlineMs > 0 ? new Date(opEnd.getTime() + s.maxDeadlineMs) : null;
  if (s.ttlMs === null || s.ttlMs <= 0) return { deadlineAt: null, maxDeadlineAt };
  const deadline = new Date(opEnd.getTime() + s.ttlMs);
  return { deadlineAt: maxDeadlineAt && maxDeadlineAt < deadline ? maxDeadlineAt : deadline, maxDeadlineAt };
}

/**
 * Activity moves the deadline to at least now + bump, never past max, and NEVER backwards (a
 * deadline already later than now + bump stays; one already past max, set by hand, stays too).
 * No deadline: none (activity does not invent one).
 */
export function bumpedDeadline(deadline: Date | null, max: Date | null, now: Date, bumpMs: number | null): Date | null {
  if (deadline === null) return null;
  let wanted = new Date(now.getTime() + (bumpMs ?? DEFAULT_ACTIVITY_BUMP_MS));
  if (max !== null && wanted > max) wanted = max;
  return wanted > deadline ? wanted : deadline;
}

/** What the rules see of a workspace at one instant. */
export interface WorkspaceSeen {
  status: WorkspaceStatus;
  /** Its latest operation (any type). */
  latest: OperationSeen | null;
  /** Its latest start-type operation (create, start, restart, rebuild), whatever came after. */
  lastStart: OperationSeen | null;
  deadlineAt: Date | null;
  lastActiveAt: Date;
  dormantAt: Date | null;
  /** A shell session open or a job running on its agent, now. */
  active: boolean;
  /** Inside a scheduled session's window (its prepare lead to its end): nothing but the session stops it. */
  inSession: boolean;
  settings: LifecycleSettings;
}

export interface LifecycleDecision {
  /** An operation to request (the loop treats a 409 as "not now"). */
  operation?: { type: OperationType; reason: OperationReason };
  /** Set dormant_at = now (it was not dormant). */
  markDormant?: true;
}

/** When it was last used: its last activity, or the end (else the request) of its last start. */
export function lastUsedAt(w: Pick<WorkspaceSeen, 'lastActiveAt' | 'lastStart'>): Date {
  const start = w.lastStart ? (w.lastStart.endedAt ?? w.lastStart.createdAt) : null;
  return start && start > w.lastActiveAt ? start : w.lastActiveAt;
}

const elapsed = (since: Date, now: Date, ms: number | null): boolean => ms !== null && ms > 0 && now.getTime() - since.getTime() >= ms;

/**
 * The one rule that fires for a workspace now, first match wins (at most one operation per
 * workspace per pass; the next pass sees its result). Autostart and scheduled sessions are the
 * loop's own (they need a claim so that a tick or a session is handled once).
 */
export function decideLifecycle(w: WorkspaceSeen, now: Date): LifecycleDecision {
  const s = w.settings;
  // Stopped for good already, or an operation under way: nothing to decide until it ends.
  if (w.status === 'deleted' || w.status === 'deleting' || w.status === 'pending' || w.status === 'starting' || w.status === 'stopping' || w.status === 'canceling') return {};
  const stoppable = w.status === 'running' || w.status === 'failed' || w.status === 'canceled';

  if (w.dormantAt !== null) {
    // Dormant past its autodelete: destroyed (once it is down; a running one is stopped first).
    if (w.status !== 'running' && elapsed(w.dormantAt, now, s.timeTilDormantAutodeleteMs)) return { operation: { type: 'delete', reason: 'dormancy_delete' } };
    if (w.status === 'running' && !w.inSession) return { operation: { type: 'stop', reason: 'dormancy' } };
    return {};
  }
  // LOUD: a scheduled session promised the machine until its end: no rule below may stop it.
  if (w.inSession) return {};

  if (elapsed(lastUsedAt(w), now, s.timeTilDormantMs)) {
    return w.status === 'running' ? { markDormant: true, operation: { type: 'stop', reason: 'dormancy' } } : { markDormant: true };
  }
  // A failed start left standing for failureTtl: a stop cleans up whatever it left.
  const latest = w.latest;
  if (latest && latest.status === 'failed' && isStartOperation(latest.type) && stoppable && elapsed(latest.endedAt ?? latest.createdAt, now, s.failureTtlMs)) {
    return { operation: { type: 'stop', reason: 'failure_cleanup' } };
  }
  if (w.status !== 'running') return {};
  if (w.deadlineAt !== null && now >= w.deadlineAt) return { operation: { type: 'stop', reason: 'autostop' } };
  if (!w.active && elapsed(lastUsedAt(w), now, s.idleTimeoutMs)) return { operation: { type: 'stop', reason: 'idle' } };
  return {};
}

/** A scheduled session's window: started at startAt - prepareLead, stopped at startAt + duration. */
export interface SessionWindow {
  startAt: Date;
  durationMs: number;
  prepareLeadMs: number;
}
export const sessionPrepareAt = (s: SessionWindow): Date => new Date(s.startAt.getTime() - s.prepareLeadMs);
export const sessionEndAt = (s: SessionWindow): Date => new Date(s.startAt.getTime() + s.durationMs);
/** Two windows overlap when each begins (prepare) before the other ends. */
export const sessionsOverlap = (a: SessionWindow, b: SessionWindow): boolean => sessionPrepareAt(a) < sessionEndAt(b) && sessionPrepareAt(b) < sessionEndAt(a);
