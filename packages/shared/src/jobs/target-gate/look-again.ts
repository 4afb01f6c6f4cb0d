/** A job turned away by its target's gate looks again after this long at the head of the line… */
export const GATE_LOOK_AGAIN_MS = 2_000;
/** …and at most this long further back. */
export const GATE_LOOK_AGAIN_MAX_MS = 30_000;

/**
 * When a refused job looks at its target's gate again, if nothing woke it first. The wake-up on a
 * job's end (wake-waiters.ts) is what starts waiters promptly; this is the backstop for a wake-up
 * that never came (a job ended by another process, a limit set while jobs ran). A job `ahead`
 * places back with room for `limit` at a time cannot start before about ahead / limit rounds of
 * ends, so it looks less often: 1,000 jobs waiting on one target do not each look every 2 s.
 */
export function gateLookAgainMs(ahead: number, limit: number): number {
  const rounds = Math.floor(Math.max(0, ahead) / Math.max(1, limit));
  return Math.min(GATE_LOOK_AGAIN_MAX_MS, GATE_LOOK_AGAIN_MS * (1 + rounds));
}
