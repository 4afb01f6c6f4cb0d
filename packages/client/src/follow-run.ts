import { streamRun, type RunStreamMessage } from '@vmo/shared/api';
import { resumeUntilEnd } from './resume.ts';
import { decodeBase64 } from './follow.ts';
import { routeUrl } from './http.ts';
import { openStream, type StreamClose, type StreamSocket, type StreamTarget } from './stream.ts';

export type RunStreamEnd = Extract<RunStreamMessage, { type: 'end' }>;
export type RunStreamStatus = Extract<RunStreamMessage, { type: 'status' }>;
export type RunStreamProgress = Extract<RunStreamMessage, { type: 'progress' }>;

/** A chunk of one child's output, tagged with the child. */
export interface RunOutputChunk {
  jobId: string;
  index: number;
  target: string;
  /** The child's attempt that wrote it (a retried child's attempts follow each other, seqs from 0 in each). */
  attempt: number;
  seq: number;
  stream: 'stdout' | 'stderr';
  /** The bytes exactly as the command wrote them. */
  data: Uint8Array;
}

/** Why followRun() reconnects: the close code (1012, 4008), the refused upgrade's status (503, 429), or the network error. */
export interface RunReconnect {
  /** The `?after=` it reconnects with: the cursor of the last frame delivered (undefined: none yet). */
  after: string | undefined;
  delayMs: number;
  closeCode?: number;
  status?: number;
  error?: Error;
}

export interface RunStreamOnceOptions {
  /** Resume after the frame that carried this cursor; absent: from the start. */
  after?: string | undefined;
  /** false: progress and statuses only (`?output=false`). */
  output?: boolean | undefined;
  onMessage(msg: RunStreamMessage, socket: StreamSocket): void;
  signal?: AbortSignal | undefined;
}

export interface FollowRunOptions {
  after?: string | undefined;
  output?: boolean | undefined;
  onOutput?(chunk: RunOutputChunk): void;
  onStatus?(status: RunStreamStatus): void;
  onProgress?(progress: RunStreamProgress): void;
  /** Every frame delivered, in order (never one twice), with its socket. */
  onMessage?(msg: RunStreamMessage, socket: StreamSocket): void;
  onReconnect?(reconnect: RunReconnect): void;
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
 * One connection to `GET /v1/runs/{id}/stream`: resolves with the close once the server (or
 * `onMessage`) closes it; rejects with VmoApiError when the upgrade is refused. To follow a run
 * to its end across reconnects, use followRun().
 */
export function streamRunOnce(target: StreamTarget, runId: string, opts: RunStreamOnceOptions): Promise<StreamClose> {
  const query = { after: opts.after, output: opts.output === false ? 'false' : undefined };
  const url = routeUrl(target.baseUrl.replace(/^http/, 'ws'), streamRun, { id: runId }, query);
  return openStream<RunStreamMessage>(target, url, opts);
}

/**
 * Follow a run to its end: the replay, then live progress, status changes and every child's
 * output; when the server closes with 1012 (restarting) or 4008 (too slow), or the upgrade is
 * refused with 503 (a store is down) or 429, or the server cannot be reached, reconnect with
 * `?after=` the cursor of the last frame delivered, with a backoff. The server sends nothing twice
 * and skips nothing from a cursor; as a guard, a chunk at or below the last seq delivered for its
 * child is dropped, and a hole in a child's seqs (which the server never sends) reconnects from
 * the last cursor rather than skipping. Resolves with the `end` frame.
 *
 * Throws VmoApiError for a refusal retrying cannot fix (400, 401, 403, 404), VmoStreamClosedError
 * for a close that is not a resume (1008, 1009, 4404) or past `maxResumes`, and the signal's
 * reason when aborted.
 */
export async function followRun(target: StreamTarget, runId: string, opts: FollowRunOptions = {}): Promise<RunStreamEnd> {
  let after = opts.after;
  /** The last seq delivered of each child seen here (by job id). */
  const lastSeq = new Map<string, number>();
  return resumeUntilEnd<RunStreamEnd, string | undefined>(opts, () => after, (c) => {
    const onMessage = (msg: RunStreamMessage, socket: StreamSocket) => {
      if (c.gap) return;
      if (msg.type === 'output') {
        const last = lastSeq.get(msg.jobId);
        if (last !== undefined && msg.seq <= last) {
          after = msg.cursor; // delivered before: never twice
          return;
        }
        if (last !== undefined && msg.seq !== last + 1) {
          c.gap = true; // never skip: start again from the last cursor delivered
          socket.close(1000, 'gap');
          return;
        }
        lastSeq.set(msg.jobId, msg.seq);
      } else if (msg.type === 'end') {
        c.end = msg;
      }
      after = msg.cursor;
      c.delivered = true;
      opts.onMessage?.(msg, socket);
      if (msg.type === 'output') opts.onOutput?.({ jobId: msg.jobId, index: msg.index, target: msg.target, attempt: msg.attempt, seq: msg.seq, stream: msg.stream, data: decodeBase64(msg.data) });
      else if (msg.type === 'status') opts.onStatus?.(msg);
      else if (msg.type === 'progress') opts.onProgress?.(msg);
    };
    return streamRunOnce(target, runId, { after, output: opts.output, onMessage, signal: opts.signal });
  });
}
