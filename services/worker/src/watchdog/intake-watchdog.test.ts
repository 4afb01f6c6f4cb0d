import type { Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IntakeWatch, STUCK_EXIT_CODE, startIntakeWatchdog } from './intake-watchdog.ts';

describe('IntakeWatch: a worker that takes no job while jobs wait and it has a free slot is stuck', () => {
  it('jobs waiting, a slot free, nothing taken for stuckMs: stuck', () => {
    const w = new IntakeWatch(4, 10_000, 0);
    expect(w.observe({ waiting: 3, active: 1 }, 1_000)).toEqual({});
    expect(w.observe({ waiting: 3, active: 1 }, 10_999)).toEqual({});
    expect(w.observe({ waiting: 3, active: 1 }, 11_000)).toEqual({ stuckForMs: 10_000 });
  });

  it('a job taken meanwhile starts the wait again', () => {
    const w = new IntakeWatch(4, 10_000, 0);
    w.observe({ waiting: 3, active: 0 }, 1_000);
    w.took(9_000);
    expect(w.observe({ waiting: 3, active: 1 }, 15_000)).toEqual({});
    expect(w.observe({ waiting: 3, active: 1 }, 19_000)).toEqual({ stuckForMs: 10_000 });
  });

  it('every slot busy, an empty queue, or a Redis that does not answer: never stuck, and the wait starts over', () => {
    const w = new IntakeWatch(2, 10_000, 0);
    w.observe({ waiting: 5, active: 0 }, 1_000);
    expect(w.observe({ waiting: 5, active: 2 }, 20_000)).toEqual({});
    expect(w.observe({ waiting: 5, active: 1 }, 25_000)).toEqual({}); // waiting again only since 25 s
    expect(w.observe({ waiting: undefined, active: 0 }, 40_000)).toEqual({});
    expect(w.observe({ waiting: 0, active: 0 }, 60_000)).toEqual({});
    expect(w.observe({ waiting: 1, active: 0 }, 61_000)).toEqual({});
    expect(w.observe({ waiting: 1, active: 0 }, 71_000)).toEqual({ stuckForMs: 10_000 });
  });
});

describe('startIntakeWatchdog: a monotonic clock, and a frozen process is not judged', () => {
  // Jobs wait the whole time and nothing is taken: only the clock decides.
  const STUCK_MS = 10_000;
  const EVERY_MS = 1_000;
  const silent = { error: () => {} } as unknown as Logger;
  const start = (exits: number[], now?: () => number) =>
    startIntakeWatchdog({ concurrency: 2, stuckMs: STUCK_MS, everyMs: EVERY_MS, countWaiting: async () => 3, log: silent, exit: (code) => exits.push(code), now });

  afterEach(() => vi.useRealTimers());

  it('a forward wall-clock step of an hour (NTP) is no stall; the same wait then still ends in a verdict on the monotonic clock', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const exits: number[] = [];
    const watchdog = start(exits); // the default clock
    try {
      await vi.advanceTimersByTimeAsync(3_000);
      vi.setSystemTime(Date.now() + 3_600_000); // the wall clock jumps; performance.now does not
      await vi.advanceTimersByTimeAsync(2_000);
      expect(exits).toEqual([]); // on Date.now, waiting since 1 s and "now" an hour later: exit 70
      await vi.advanceTimersByTimeAsync(STUCK_MS);
      expect(exits).toEqual([STUCK_EXIT_CODE]); // still watching: a real stall is still caught
    } finally {
      watchdog.stop();
    }
  });

  it('a real stall (jobs waiting, slots free, nothing taken) exits 70 once stuckMs has passed on the injected clock, not before', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    let mono = 500_000;
    const exits: number[] = [];
    const watchdog = start(exits, () => mono);
    const step = async (ms: number) => {
      for (let i = 0; i < ms; i += 100) {
        mono += 100;
        await vi.advanceTimersByTimeAsync(100);
      }
    };
    try {
      await step(STUCK_MS); // the first sample starts the wait at 1 s
      expect(exits).toEqual([]);
      await step(EVERY_MS + 100);
      expect(exits).toEqual([STUCK_EXIT_CODE]);
    } finally {
      watchdog.stop();
    }
  });

  it('the whole process frozen (its own tick, or its sample\'s answer, came late by more than half the limit): the wait starts over', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    let mono = 0;
    let answer: ((n: number) => void) | undefined;
    let hold = false;
    const exits: number[] = [];
    const watchdog = startIntakeWatchdog({
      concurrency: 2,
      stuckMs: STUCK_MS,
      everyMs: EVERY_MS,
      countWaiting: () => (hold ? new Promise<number>((resolve) => (answer = resolve)) : Promise.resolve(3)),
      log: silent,
      exit: (code) => exits.push(code),
      now: () => mono,
    });
    const step = async (ms: number) => {
      for (let i = 0; i < ms; i += 100) {
        mono += 100;
        await vi.advanceTimersByTimeAsync(100);
      }
    };
    try {
      await step(4_000); // waiting for 3 s
      // Frozen for 30 s between two ticks: no timer fired, the monotonic clock ran on.
      mono += 30_000;
      await step(STUCK_MS - 2_000); // judged from the thaw: not yet 10 s of a wait that could be used
      expect(exits).toEqual([]);
      await step(3_000);
      expect(exits).toEqual([STUCK_EXIT_CODE]);
    } finally {
      watchdog.stop();
    }

    // Frozen while a sample was on its way: its answer comes 30 s after the tick that asked.
    exits.length = 0;
    mono = 0;
    const again = startIntakeWatchdog({
      concurrency: 2,
      stuckMs: STUCK_MS,
      everyMs: EVERY_MS,
      countWaiting: () => (hold ? new Promise<number>((resolve) => (answer = resolve)) : Promise.resolve(3)),
      log: silent,
      exit: (code) => exits.push(code),
      now: () => mono,
    });
    try {
      await step(5_000); // waiting for 4 s
      hold = true;
      await step(1_000); // the next tick asks; the answer does not come
      mono += 30_000; // frozen
      hold = false;
      answer!(3); // the answer is the first thing to run on resume (before the deadline's timer)
      await vi.advanceTimersByTimeAsync(0);
      expect(exits).toEqual([]);
      await step(STUCK_MS - 2_000);
      expect(exits).toEqual([]);
      await step(3_000);
      expect(exits).toEqual([STUCK_EXIT_CODE]);
    } finally {
      again.stop();
    }
  });
});
