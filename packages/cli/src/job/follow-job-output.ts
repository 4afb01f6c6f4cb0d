import type { OutputChunk, StreamEnd, VmoClient } from '@vmo/client';
import { resumeOnBreak } from './resume-on-break.ts';

export interface FollowJobOptions {
  /** The last seq already written (-1: from the first chunk). */
  after?: number;
  /** Only this stream's chunks are handed to onOutput (both by default). */
  stream?: 'stdout' | 'stderr' | undefined;
  onOutput(chunk: OutputChunk): void;
  /** Told when the connection is being re-opened (for a notice on a terminal). */
  onResume?(after: number): void;
  signal?: AbortSignal | undefined;
}

/**
 * Follow a job's stream to its end, handing over every chunk exactly once and in order, resuming
 * from the last seq delivered whenever the connection closes or breaks (resume-on-break.ts), so
 * `vmo run` survives a dropped connection without losing or repeating a byte.
 */
export function followJobOutput(client: VmoClient, jobId: string, opts: FollowJobOptions): Promise<StreamEnd> {
  let last = opts.after ?? -1;
  let lastAtBreak = last;
  const follow = () =>
    client.follow(jobId, {
      after: last,
      signal: opts.signal,
      onOutput: (chunk) => {
        last = chunk.seq; // LOUD: advanced for every chunk, shown or filtered out, so a resume never repeats one
        if (opts.stream === undefined || chunk.stream === opts.stream) opts.onOutput(chunk);
      },
      onReconnect: (r) => opts.onResume?.(r.after),
    });
  return resumeOnBreak(follow, {
    signal: opts.signal,
    progressed: () => {
      const moved = last !== lastAtBreak;
      lastAtBreak = last;
      return moved;
    },
    onBreak: () => opts.onResume?.(last),
  });
}
