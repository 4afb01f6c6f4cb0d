import type { RunStatus } from '../domain/run-status.ts';
import type { ChildCounts } from './child-counts.ts';
import type { RunRow } from './run-row.ts';

/** Why a run stops starting children (the job error code its queued children are skipped with). */
export type StopReason = 'canary_failed' | 'max_errors_exceeded';

/** What one roll-up does to a run, decided from the run row and its children's counts alone. */
export interface RollUpDecision {
  status: RunStatus;
  startedAt: Date | null;
  finishedAt: Date | null;
  canaryPassedAt: Date | null;
  /** Release this many held children, in run_index order, below `beforeIndex` (the canaries) when set. */
  release: { count: number; beforeIndex: number | null };
  /** Stop starting: every child still `queued` (held, or released and not yet started) ends `skipped` with this code. */
  stop: StopReason | null;
  /** The run was canceled and some children are still `queued`: end them `canceled`. */
  cancelQueued: boolean;
  /** The canaries passed and the bake has this long to go before the rest may start. */
  bakeRemainingMs: number | null;
}

/**
 * The roll-up's rules (SSM's rate control), pure so they read on one screen:
 *
 * - A canceled run releases nothing and ends its queued children `canceled`.
 * - A run whose `runAt` is ahead releases nothing (and stays `queued`) until it comes.
 * - A canary (run_index < canary.count) that ended other than `succeeded` stops the run
 *   (`canary_failed`); failures (`failed | timed_out | lost`) over maxErrors stop it too
 *   (`max_errors_exceeded`). Stopped: every child still `queued` ends `skipped` with that code,
 *   held or released (a released child may wait long for a worker or its target: with the
 *   default maxConcurrency every child is released at once, and `maxErrors: 0` must still stop
 *   the rest); only children already `running` finish.
 * - Otherwise up to `maxConcurrency − active` held children are released: the canaries alone
 *   until every one succeeded, then (once `canaryPassedAt + bakeMs` is past) the rest.
 * - Status: `queued` while every child is `queued`, `running` once one is not, and when all are
 *   terminal `canceled` (cancel requested), `succeeded` (every child succeeded, or was skipped as
 *   offline under `offline: "skip"`) or `failed`.
 */
export function decideRollUp(run: RunRow, c: ChildCounts): RollUpDecision {
  const s = run.strategy;
  const canaryCount = s.canary?.count ?? 0;
  const now = c.now;
  let canaryPassedAt = run.canaryPassedAt;
  let stop: StopReason | null = null;
  let release = { count: 0, beforeIndex: null as number | null };
  let bakeRemainingMs: number | null = null;
  const canceling = run.cancelRequestedAt !== null;
  // Its runAt is ahead: nothing is released yet, so its rate control (and a canary's) starts then.
  // The workers' release loop rolls it up when it comes (runs/release-due-runs.ts), the sweep too.
  const waiting = run.runAt != null && now.getTime() < run.runAt.getTime();

  if (!canceling && !waiting) {
    if (canaryCount > 0 && c.canaryBad > 0) stop = 'canary_failed';
    else if (s.maxErrors !== null && c.failures > s.maxErrors) stop = 'max_errors_exceeded';
    else {
      const room = Math.max(0, Math.min(s.maxConcurrency - c.active, c.held));
      if (canaryCount > 0 && canaryPassedAt === null && c.canaryOk < canaryCount) {
        release = { count: room, beforeIndex: canaryCount };
      } else {
        if (canaryCount > 0 && canaryPassedAt === null) canaryPassedAt = now;
        const bakeEnds = canaryCount > 0 ? canaryPassedAt!.getTime() + s.canary!.bakeMs : 0;
        if (now.getTime() < bakeEnds) {
          if (c.held > 0) bakeRemainingMs = bakeEnds - now.getTime();
        } else {
          release = { count: room, beforeIndex: null };
        }
      }
    }
  }

  let status: RunStatus;
  if (c.total > 0 && c.terminal === c.total) status = canceling ? 'canceled' : c.ok === c.total ? 'succeeded' : 'failed';
  // A run that has started stays `running` while a child waits `queued` for its next attempt (issue 14).
  else if (c.total - c.queued > 0 || run.startedAt !== null) status = 'running';
  else status = 'queued';
  const final = status === 'succeeded' || status === 'failed' || status === 'canceled';

  return {
    status,
    startedAt: run.startedAt ?? c.firstStartedAt ?? (status === 'running' ? now : null),
    finishedAt: final ? (run.finishedAt ?? now) : null,
    canaryPassedAt,
    release,
    stop: stop && c.queued > 0 ? stop : null,
    cancelQueued: canceling && c.queued > 0,
    bakeRemainingMs,
  };
}
