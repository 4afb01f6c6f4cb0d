import { VmoStreamClosedError } from '@vmo/client';

/** Close codes of a connection that broke rather than was closed: 1006 (no close frame: a reset, a cut), 1001 (going away), 1011 (server error). */
const BROKEN_CONNECTION_CODES = [1001, 1006, 1011];
const MAX_BREAKS = 1_000;

/**
 * Run `follow` (client.follow or client.followRun, resuming from the position its closure keeps)
 * again each time its connection breaks.
 *
 * The client's followers resume after the closes the server sends for that (1012, 4008) and while
 * an upgrade fails (503, 429, unreachable); a connection that simply breaks (a reset, a proxy or
 * NAT that drops it: close 1006) they report as a VmoStreamClosedError. `progressed()` says
 * whether anything was delivered since the last break (the backoff starts again when it was).
 */
export async function resumeOnBreak<T>(follow: () => Promise<T>, opts: { progressed(): boolean; onBreak?(): void; signal?: AbortSignal | undefined }): Promise<T> {
  let failures = 0;
  for (let breaks = 0; ; breaks++) {
    try {
      return await follow();
    } catch (err) {
      if (!(err instanceof VmoStreamClosedError) || !BROKEN_CONNECTION_CODES.includes(err.closeCode) || breaks >= MAX_BREAKS || opts.signal?.aborted) throw err;
      failures = opts.progressed() ? 0 : failures + 1;
      opts.onBreak?.();
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** Math.min(failures, 5))));
    }
  }
}
