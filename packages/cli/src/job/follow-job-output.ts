import type { OutputChunk, StreamEnd, VmoClient } from '@vmo/client';

export interface FollowJobOptions {
  /** The last seq already written (-1: from the first chunk). */
  after?: number;
  /** A retried job: start at this attempt, then follow the later ones (absent: the latest). */
  attempt?: number | undefined;
  /** A retried job moved on to `attempt`: its output follows. */
  onAttempt?(attempt: number, retryAt: string | null): void;
  /** Only this stream's chunks are handed to onOutput (both by default). */
  stream?: 'stdout' | 'stderr' | undefined;
  onOutput(chunk: OutputChunk): void;
  /** Told when the connection is being re-opened (for a notice on a terminal). */
  onResume?(after: number): void;
  signal?: AbortSignal | undefined;
}

/**
 * Follow a job's stream to its end, handing over every chunk exactly once and in order, resuming
 * from the last seq delivered whenever the connection closes or breaks (the client's follow()
 * does), so `vmo run` survives a dropped connection without losing or repeating a byte.
 */
export function followJobOutput(client: VmoClient, jobId: string, opts: FollowJobOptions): Promise<StreamEnd> {
  return client.follow(jobId, {
    after: opts.after ?? -1,
    ...(opts.attempt !== undefined ? { attempt: opts.attempt } : {}),
    signal: opts.signal,
    onOutput: (chunk) => {
      // LOUD: every chunk moves follow()'s position, shown or filtered out, so a resume never repeats one
      if (opts.stream === undefined || chunk.stream === opts.stream) opts.onOutput(chunk);
    },
    onReconnect: (r) => opts.onResume?.(r.after),
    onAttempt: (attempt, retryAt) => opts.onAttempt?.(attempt, retryAt),
  });
}
