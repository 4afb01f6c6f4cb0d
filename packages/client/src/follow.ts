import type { JobStatus, StreamMessage } from '@vmo/shared/api';
import { resumeUntilEnd } from './resume.ts';
import { streamOnce, type StreamClose, type StreamSocket, type StreamTarget } from './stream.ts';

export type StreamEnd = Extract<StreamMessage, { type: 'end' }>;

export interface OutputChunk {
  /** The attempt it belongs to (issue 14: a retried job's attempts each have their own output, seqs from 0). */
  attempt: number;
  seq: number;
  stream: 'stdout' | 'stderr';
  /** The bytes exactly as the command wrote them. */
  data: Uint8Array;
}

/** Why follow() reconnects: the close code (1012, 4008), the refused upgrade's status (503, 429), or the network error. */
export interface Reconnect {
  /** The `?after=` it reconnects with: the last seq delivered. */
  after: number;
  delayMs: number;
  closeCode?: number;
  status?: number;
  error?: Error;
}

export interface FollowOptions {
  /** Start after this seq (the last one you have); -1 or absent: from the first chunk. */
  after?: number | undefined;
  /** A retried job: start at this attempt (`after` is a seq of it); absent: the latest. */
  attempt?: number | undefined;
  onOutput?(chunk: OutputChunk): void;
  onStatus?(status: JobStatus): void;
  /** A retried job moved on to attempt `attempt`: its output follows, seqs from 0. */
  onAttempt?(attempt: number, retryAt: string | null): void;
  /** Every frame delivered, in order (a duplicate after a resume is never delivered), with its socket. */
  onMessage?(msg: StreamMessage, socket: StreamSocket): void;
  onReconnect?(reconnect: Reconnect): void;
  /** Each connection's close, the last one included. */
  onClose?(close: StreamClose): void;
  signal?: AbortSignal | undefined;
  /** Resumes after a 1012 or 4008 close, in all (default 100); past it, the close is an error. */
  maxResumes?: number;
  /** How long a stream that cannot be opened (503, 429, unreachable) is retried before the error is thrown (default 120 s). */
  retryForMs?: number;
  /** Reconnect delays: `initialMs` doubling up to `maxMs`, jittered (defaults 250 ms and 5 s); back to `initialMs` once a connection delivers. */
  backoff?: { initialMs?: number; maxMs?: number };
}

/**
 * Follow a job to its end as the README tells clients to: replay what is stored, then live output,
 * and when the server closes the stream with 1012 (restarting) or 4008 (too slow), or the upgrade
 * is refused with 503 (a store is down) or cannot reach the server, reconnect with `?after=` the
 * last seq delivered, with a backoff. Each chunk is delivered exactly once and in order: a chunk at
 * or below the last seq is dropped, and a gap (which the server never sends) is refilled by
 * reconnecting from the last seq rather than skipped. Resolves with the `end` frame.
 *
 * Throws VmoApiError for a refusal that retrying cannot fix (401, 403, 404, 400),
 * VmoStreamClosedError for a close that is not a resume (1008, 1009, 4404) or past `maxResumes`,
 * and the signal's reason when aborted.
 */
export async function follow(target: StreamTarget, jobId: string, opts: FollowOptions = {}): Promise<StreamEnd> {
  let last = opts.after ?? -1;
  /** The attempt being delivered (issue 14); undefined until the server says otherwise: the latest. */
  let attempt = opts.attempt;
  return resumeUntilEnd<StreamEnd, number>(opts, () => last, (c) => {
    const onMessage = (msg: StreamMessage, socket: StreamSocket) => {
      if (c.gap) return;
      if (msg.type === 'status' && msg.attempt !== undefined) {
        attempt ??= msg.attempt; // the first frame: where the stream starts (the latest, when none was asked for)
      } else if (msg.type === 'attempt') {
        // A resume names its attempt, so a marker for one already delivered is never repeated.
        if (attempt !== undefined && msg.attempt <= attempt) return;
        attempt = msg.attempt;
        last = -1;
      } else if (msg.type === 'output') {
        if (msg.seq <= last) return; // delivered before this connection: never twice
        if (msg.seq !== last + 1) {
          c.gap = true; // never skip: start again from the last seq delivered
          socket.close(1000, 'gap');
          return;
        }
        last = msg.seq;
      } else if (msg.type === 'end') {
        c.end = msg;
      }
      c.delivered = true;
      opts.onMessage?.(msg, socket);
      if (msg.type === 'output') opts.onOutput?.({ attempt: attempt ?? 1, seq: msg.seq, stream: msg.stream, data: decodeBase64(msg.data) });
      else if (msg.type === 'status') opts.onStatus?.(msg.status);
      else if (msg.type === 'attempt') opts.onAttempt?.(msg.attempt, msg.retryAt);
    };
    // Resumed at the attempt it had reached (absent: the latest, which is where a first connection starts).
    return streamOnce(target, jobId, { after: last, attempt, onMessage, signal: opts.signal });
  });
}

/** base64 → bytes, in Node (Buffer, itself a Uint8Array) and in browsers. */
export function decodeBase64(text: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return Buffer.from(text, 'base64');
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
