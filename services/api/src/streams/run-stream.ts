import type { WebSocket } from 'ws';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { SubscriberCloseCode } from '@vmo/shared/protocol';
import { DEFAULT_RUN_STREAM_LIMITS, encodeRunCursor, readRunStream, RUN_STREAM_POLL_MS, type ChildMemory, type RunStreamCursor, type RunStreamLimits } from '@vmo/shared/runs';
import { countCutTooSlow, watchSubscriberSocket } from './socket-lifecycle.ts';

export interface RunStreamDeps {
  cp: ControlPlane;
  log: Logger;
  /** Read Postgres again only once at most half of this waits in the subscriber's socket. */
  maxBufferedBytes: number;
  pollMs?: number;
  limits?: RunStreamLimits;
}

/** A subscriber whose socket does not drain at all for this long is cut (4008). */
const STALL_MS = 30_000;
const RESUME_HINT = 'reconnect with ?after=<the cursor of the last message>';

/**
 * Serve `/v1/runs/{id}/stream` from `start`: windows of what changed (readRunStream), replayed
 * then live, until the run's `end`.
 *
 * One loop per subscriber, nothing queued in memory: a page is read only once the socket has
 * drained to half the subscriber's limit, so a slow reader is served at its own speed and holds
 * at most that plus one page (1 MiB of output) — whether it is replaying or live, since live
 * output is read from Postgres too. Only a reader that stops reading altogether is cut (4008).
 * Postgres is read once per poll interval per subscriber while nothing is left to send, and
 * back to back while a window still has pages.
 */
export async function serveRunStream(ws: WebSocket, start: RunStreamCursor, deps: RunStreamDeps): Promise<void> {
  const { cp, log } = deps;
  const runId = start.runId;
  const pollMs = deps.pollMs ?? RUN_STREAM_POLL_MS;
  const memory: ChildMemory = new Map();
  let cursor = start;
  let done = false;
  let wake: (() => void) | undefined;

  const close = (code: number, reason: string) => {
    if (done) return;
    done = true;
    wake?.();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
  };
  watchSubscriberSocket(ws, close);

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => resolve(), ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  /** Wait until at most half the limit waits in the socket; false if it stopped draining for STALL_MS. */
  const drained = async (): Promise<boolean> => {
    const target = deps.maxBufferedBytes / 2;
    let last = ws.bufferedAmount;
    let movedAt = Date.now();
    while (!done && ws.bufferedAmount > target) {
      if (ws.bufferedAmount < last) movedAt = Date.now();
      last = ws.bufferedAmount;
      if (Date.now() - movedAt > STALL_MS) return false;
      await pause(20);
    }
    return true;
  };

  try {
    while (!done) {
      if (!(await drained())) {
        log.info({ runId, bufferedBytes: ws.bufferedAmount }, 'run stream subscriber stopped reading: closed 4008');
        countCutTooSlow();
        return close(SubscriberCloseCode.tooSlow, `subscriber too slow; ${RESUME_HINT}`);
      }
      if (done) return;
      const step = await readRunStream(cp.database.sql, cursor, memory, deps.limits ?? DEFAULT_RUN_STREAM_LIMITS);
      if (done) return;
      if (step.missing) return close(SubscriberCloseCode.notFound, 'no such run');
      // LOUD: in order and all of them; each carries the cursor that resumes right after it.
      for (const event of step.events) ws.send(JSON.stringify(event));
      cursor = step.cursor;
      if (step.ended) return close(SubscriberCloseCode.done, 'run ended');
      if (!step.more) await pause(pollMs);
    }
  } catch (err) {
    // A store outage or a bug: the subscriber resumes from its last cursor, on this node or another.
    log.warn({ err: (err as Error).message, runId, cursor: encodeRunCursor(cursor) }, 'run stream failed');
    close(SubscriberCloseCode.restart, `stream interrupted; ${RESUME_HINT}`);
  }
}
