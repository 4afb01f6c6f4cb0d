import type { OperationStatus, OperationType } from '../domain/workspace.ts';

/**
 * Running time from operation history (GET /v1/usage), as plain arithmetic on milliseconds so that
 * a fixture can check it by hand (usage.test.ts).
 *
 * The rule, and why:
 * - A workspace runs from the END of a SUCCEEDED start-like operation (create, start, restart,
 *   rebuild: the machine is up once the provider has converged it) until the START of the next
 *   stop-like operation (stop, restart, rebuild, delete: from then on the machine is being taken
 *   down). restart and rebuild are therefore both: they close the interval when they begin and,
 *   if they succeed, open a new one when they end; the gap between is not running.
 * - A stop-like operation closes the interval once it has BEGUN (started_at set), whatever its
 *   outcome: a failed stop leaves the workspace `failed`, not `running`, and usage follows the
 *   derived status. One that never began (canceled or failed while pending, or still pending) did
 *   nothing to the machine, so it closes nothing: a pending stop is still running time.
 * - A failed or canceled start-like operation opens nothing (the workspace is `failed`/`canceled`).
 * - snapshot and restore run on a stopped workspace: they neither open nor close.
 * - A start-like success while an interval is open (it cannot happen through requestOperation,
 *   but rows can be edited) keeps the open interval: time is never counted twice.
 * - The workspace's deleted_at (an orphan delete has no provider call) closes an open interval.
 * - An interval still open ends at `now` (the caller clips it to min(to, now)).
 * Each interval carries the costPerHour of the template version its opening operation built from.
 */
export interface UsageOperation {
  type: OperationType;
  status: OperationStatus;
  createdMs: number;
  startedMs: number | null;
  endedMs: number | null;
  /** The template version's costPerHour for what this operation built (start-like ones); null: none. */
  costPerHour: number | null;
}

export interface RunningInterval {
  startMs: number;
  /** null: still running. */
  endMs: number | null;
  costPerHour: number | null;
}

const OPENS: ReadonlySet<OperationType> = new Set(['create', 'start', 'restart', 'rebuild']);
const CLOSES: ReadonlySet<OperationType> = new Set(['stop', 'restart', 'rebuild', 'delete']);

/** `ops` in any order: they are taken in creation order (requestOperation allows one active at a time). */
export function runningIntervals(ops: readonly UsageOperation[], deletedMs: number | null = null): RunningInterval[] {
  const sorted = [...ops].sort((a, b) => a.createdMs - b.createdMs);
  const out: RunningInterval[] = [];
  let open: RunningInterval | null = null;
  for (const op of sorted) {
    // Close first: a restart ends the running time when it begins, then (on success) starts a new one.
    if (open && CLOSES.has(op.type) && op.startedMs !== null) {
      open.endMs = Math.max(open.startMs, op.startedMs);
      out.push(open);
      open = null;
    }
    if (!open && OPENS.has(op.type) && op.status === 'succeeded') {
      // A succeeded operation has ended_at; were it missing, its start is the best we know.
      const at = op.endedMs ?? op.startedMs ?? op.createdMs;
      open = { startMs: at, endMs: null, costPerHour: op.costPerHour };
    }
  }
  if (open) {
    if (deletedMs !== null) open.endMs = Math.max(open.startMs, deletedMs);
    out.push(open);
  }
  return out;
}

/** Seconds and cost of `intervals` inside [fromMs, min(toMs, nowMs)). */
export function clipIntervals(intervals: readonly RunningInterval[], fromMs: number, toMs: number, nowMs: number): { seconds: number; cost: number } {
  const end = Math.min(toMs, nowMs);
  let ms = 0;
  let cost = 0;
  for (const i of intervals) {
    const a = Math.max(i.startMs, fromMs);
    const b = Math.min(i.endMs ?? nowMs, end);
    if (b <= a) continue;
    ms += b - a;
    if (i.costPerHour !== null) cost += ((b - a) / 3_600_000) * i.costPerHour;
  }
  return { seconds: ms / 1000, cost };
}
