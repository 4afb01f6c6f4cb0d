import type { JobStatus, OutputChunk, StreamEnd, VmoClient } from '@vmo/client';
import { endsSession } from '../../lib/session-end.ts';
import type { FrameWriter } from './frame-writer.ts';
import { OutputSplicer } from './output-splicer.ts';

/** What the console says about its connection. */
export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

export interface FeedHandlers {
  onState(state: FeedState): void;
  onStatus?(status: JobStatus): void;
  onEnd?(end: StreamEnd): void;
  onError(err: unknown): void;
  /**
   * The credential ended (the stream closed 4401, or its upgrade was refused 401): the session's
   * `expireSession`, which signs the tab out. Instead of onError: there is nothing to show here.
   */
  onSessionEnd(): void;
}

/** What a test (or a curious reader) can see of a console's feed. */
export interface FeedStats {
  /** The attempt the output so far belongs to (a retried job's attempts each number their seqs from 0); undefined: none yet. */
  attempt: number | undefined;
  lastSeq: number;
  chunks: number;
  receivedBytes: number;
  /** Times the feed stopped reading because the terminal was behind, and resumed later. */
  pauses: number;
  reconnects: number;
}

/** Behind by this much (waiting to be parsed): stop reading the stream… */
const PAUSE_AT_BYTES = 8 * 1024 * 1024;
/** …and follow again, after the last seq received, once down to this. */
const RESUME_AT_BYTES = 1024 * 1024;

/**
 * Feeds a job's output into a console: the client's follow() (stored output replayed, then live,
 * resumed by seq after a dropped connection: each chunk once, in order), through the splicer
 * (stderr marked, streams cut only where they can be switched) into the frame writer.
 *
 * Backpressure: a browser WebSocket cannot be told to slow down, so when the terminal falls
 * PAUSE_AT_BYTES behind, the feed closes the stream and follows again from its last seq once the
 * terminal has caught up. Output that came meanwhile is read from the store then, at the page's
 * pace: memory stays bounded however fast the job writes, and nothing is lost or repeated.
 */
export function startFeed(client: VmoClient, jobId: string, writer: FrameWriter, handlers: FeedHandlers): { stop(): void; stats: FeedStats } {
  const stats: FeedStats = { attempt: undefined, lastSeq: -1, chunks: 0, receivedBytes: 0, pauses: 0, reconnects: 0 };
  const splicer = new OutputSplicer();
  let stopped = false;
  let controller = new AbortController();
  let pausing = false;

  // LOUD: a resume names the attempt its seq belongs to: `after` alone would be read as a seq of the
  // latest attempt, and skip the start of an attempt that began while the console was paused.
  const onOutput = (chunk: OutputChunk): void => {
    stats.attempt = chunk.attempt;
    stats.lastSeq = chunk.seq;
    stats.chunks++;
    stats.receivedBytes += chunk.data.length;
    writer.push(splicer.push(chunk.stream, chunk.data));
    if (writer.backlog > PAUSE_AT_BYTES && !pausing) {
      pausing = true;
      stats.pauses++;
      controller.abort(new DOMException('the console is catching up', 'AbortError'));
    }
  };

  const run = async (): Promise<void> => {
    handlers.onState('connecting');
    while (!stopped) {
      controller = new AbortController();
      pausing = false;
      try {
        const end = await client.jobs.follow(jobId, {
          after: stats.lastSeq,
          attempt: stats.attempt,
          signal: controller.signal,
          onOutput,
          // A retried job's next attempt: a line of its own between the attempts' output.
          onAttempt: (attempt, retryAt) => {
            stats.attempt = attempt;
            stats.lastSeq = -1;
            writer.push(splicer.flush());
            writer.push([new TextEncoder().encode(`\r\n\x1b[2m── attempt ${attempt}${retryAt ? ` (retried at ${new Date(retryAt).toLocaleTimeString()})` : ''} ──\x1b[0m\r\n`)]);
          },
          onMessage: () => handlers.onState('live'),
          onStatus: (status) => handlers.onStatus?.(status),
          onReconnect: () => {
            stats.reconnects++;
            handlers.onState('reconnecting');
          },
        });
        if (stopped) return;
        writer.push(splicer.flush());
        handlers.onState('ended');
        handlers.onEnd?.(end);
        return;
      } catch (err) {
        if (stopped) return;
        if (pausing) {
          await writer.drained(RESUME_AT_BYTES);
          continue;
        }
        handlers.onState('failed');
        if (endsSession(err)) handlers.onSessionEnd();
        else handlers.onError(err);
        return;
      }
    }
  };
  void run();

  return {
    stats,
    stop() {
      stopped = true;
      controller.abort(new DOMException('the console was closed', 'AbortError'));
    },
  };
}
