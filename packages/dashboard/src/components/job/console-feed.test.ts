import { describe, expect, it } from 'vitest';
import type { FollowOptions } from '@vmo/client';
import { startFeed, type FeedState } from './console-feed.ts';
import type { FrameWriter } from './frame-writer.ts';

const MiB = 1024 * 1024;

/**
 * The feed's backpressure without a browser: a stand-in for the client's follow() that delivers
 * seqs after `after` until aborted (as the real one stops at an abort), and a writer whose backlog
 * grows with what is pushed and empties when the feed waits for it.
 */
describe('startFeed', () => {
  it('stops following when the terminal is 8 MiB behind and follows again after the last seq once it caught up: every chunk once, in order', async () => {
    const afters: number[] = [];
    const client = {
      jobs: {
        follow: async (_id: string, opts: FollowOptions) => {
          afters.push(opts.after ?? -1);
          for (let seq = (opts.after ?? -1) + 1; seq < 10; seq++) {
            if (opts.signal?.aborted) throw opts.signal.reason;
            // Not a literal: with or without the retried job's `attempt` in OutputChunk (issue 14), it fits.
            const chunk = { seq, attempt: 0, stream: 'stdout' as const, data: new Uint8Array(3 * MiB).fill(0x30 + seq) };
            opts.onOutput?.(chunk);
            await Promise.resolve();
          }
          if (opts.signal?.aborted) throw opts.signal.reason;
          return { type: 'end' as const, status: 'succeeded' as const, exitCode: 0, signal: null };
        },
      },
    };
    const pushed: number[] = [];
    const writer = {
      backlog: 0,
      push(parts: Uint8Array[]) {
        for (const p of parts) {
          pushed.push(p[0]! - 0x30);
          this.backlog += p.length;
        }
      },
      async drained() {
        await new Promise((r) => setTimeout(r, 1));
        this.backlog = 0;
      },
    };
    const states: FeedState[] = [];
    const ended = new Promise<unknown>((resolve, reject) => {
      const feed = startFeed(client as never, 'job_x', writer as unknown as FrameWriter, { onState: (s) => states.push(s), onEnd: resolve, onError: reject, onSessionEnd: () => reject(new Error('signed out')) });
      void feed;
    });
    expect(await ended).toMatchObject({ status: 'succeeded' });
    // 3 MiB chunks: behind by 9 MiB after every third.
    expect(afters).toEqual([-1, 2, 5, 8]);
    expect(pushed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(states.at(-1)).toBe('ended');
  });
});
