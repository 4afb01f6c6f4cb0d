import { RESUMABLE_CLOSE_CODES } from '@vmo/shared/api';
import { VmoApiError, VmoStreamClosedError } from './errors.ts';
import type { StreamClose } from './stream.ts';

/** What one connection reports back: the end frame if it came, a gap it saw, whether it delivered anything. */
export interface Connection<E> {
  end: E | undefined;
  gap: boolean;
  delivered: boolean;
}

/** Why a follower reconnects: the close code (1012, 4008), the refused upgrade's status (503, 429), or the network error. */
export interface ReconnectReason {
  closeCode?: number;
  status?: number;
  error?: Error;
}

/**
 * Closes of a connection that broke rather than was ended by the server: 1006 (no close frame: a
 * reset, a proxy or NAT that dropped it), 1001 (going away: a node shutting down), 1011 (the
 * server's error). LOUD: resumed like 1012, from the follower's own position, so a dropped
 * connection loses and repeats nothing; 4401 and 4404 (access ended) are never resumed.
 */
const BROKEN_CONNECTION_CODES: readonly number[] = [1001, 1006, 1011];

export interface ResumePolicy<P> {
  signal?: AbortSignal | undefined;
  /** Resumes after a 1012 or 4008 close or a broken connection (1006, 1001, 1011), in all (default 100); past it, the close is an error. */
  maxResumes?: number;
  /** How long a stream that cannot be opened (503, 429, unreachable) is retried before the error is thrown (default 120 s). */
  retryForMs?: number;
  /** Reconnect delays: `initialMs` doubling up to `maxMs`, jittered (defaults 250 ms and 5 s); back to `initialMs` once a connection delivers. */
  backoff?: { initialMs?: number; maxMs?: number };
  onClose?(close: StreamClose): void;
  onReconnect?(reconnect: ReconnectReason & { after: P; delayMs: number }): void;
}

/**
 * The resume loop shared by the job and run followers: open a connection (`connect`, which fills
 * in `Connection` from its frames and dedupes by its own position), and until an `end` frame came,
 * reconnect from `position()` after a resumable close (1012, 4008, a gap the follower closed on, a
 * broken connection) or
 * an upgrade that could not be made (503, 429, unreachable), with jittered exponential backoff.
 * Throws VmoApiError for a refusal retrying cannot fix, VmoStreamClosedError for a close that is
 * not a resume or past `maxResumes`, and the signal's reason when aborted.
 */
export async function resumeUntilEnd<E, P>(policy: ResumePolicy<P>, position: () => P, connect: (c: Connection<E>) => Promise<StreamClose>): Promise<E> {
  const maxResumes = policy.maxResumes ?? 100;
  const retryForMs = policy.retryForMs ?? 120_000;
  const initialMs = policy.backoff?.initialMs ?? 250;
  const maxMs = policy.backoff?.maxMs ?? 5_000;
  let resumes = 0;
  let failures = 0; // consecutive reconnects without a delivered frame: the backoff's exponent
  let unreachableSince: number | undefined;

  for (;;) {
    const c: Connection<E> = { end: undefined, gap: false, delivered: false };
    let reason: ReconnectReason;
    try {
      const close = await connect(c);
      policy.onClose?.(close);
      if (c.end) return c.end;
      unreachableSince = undefined;
      if (!c.gap && !RESUMABLE_CLOSE_CODES.includes(close.code) && !BROKEN_CONNECTION_CODES.includes(close.code)) throw new VmoStreamClosedError(close.code, close.reason);
      if (++resumes > maxResumes) throw new VmoStreamClosedError(close.code, `${close.reason}; gave up after ${maxResumes} resumes`);
      reason = { closeCode: close.code };
    } catch (err) {
      if (err instanceof VmoStreamClosedError || policy.signal?.aborted) throw err;
      if (err instanceof VmoApiError && !err.retryable) throw err;
      // A store is down (503), too many connections (429), or the server is unreachable (it is restarting).
      if (c.delivered) unreachableSince = undefined;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > retryForMs) throw err;
      reason = err instanceof VmoApiError ? { status: err.status } : { error: err as Error };
    }
    if (c.delivered) failures = 0;
    const delayMs = Math.round(Math.min(maxMs, initialMs * 2 ** failures++) * (0.5 + Math.random() / 2));
    policy.onReconnect?.({ after: position(), delayMs, ...reason });
    await sleep(delayMs, policy.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
