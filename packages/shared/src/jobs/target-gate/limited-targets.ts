/**
 * The targets this process has seen a limit on, recently: what the wake-up observer
 * (wake-waiters.ts) consults so that the end of a job on an unlimited target costs nothing (no
 * query). Filled by the gated start (lifecycle/sql/start-job.ts), which every job of a limited
 * target goes through, so the worker that ran a job knows its target was limited when it ends.
 *
 * A hint, never the truth: a target missing here (a limit set while its jobs ran, a job ended by
 * another process) only means its waiters are found by their delayed look-again instead of at
 * once; a target wrongly here costs one query that finds no limit and forgets it.
 */
const REMEMBER_MS = 10 * 60_000;
const seen = new Map<string, number>();

export function noteLimitedTarget(targetId: string): void {
  seen.set(targetId, Date.now() + REMEMBER_MS);
}

export function forgetLimitedTarget(targetId: string): void {
  seen.delete(targetId);
}

export function isKnownLimited(targetId: string): boolean {
  const until = seen.get(targetId);
  if (until === undefined) return false;
  if (until < Date.now()) {
    seen.delete(targetId);
    return false;
  }
  return true;
}
