/**
 * Issue 18, "Usage seconds equal the intervals of a fixture within a second": a workspace's
 * operation history whose running intervals were worked out by hand (in the comments), against
 * runningIntervals and clipIntervals (usage-intervals.ts).
 */
import { describe, expect, it } from 'vitest';
import type { OperationStatus, OperationType } from '../domain/workspace.ts';
import { clipIntervals, runningIntervals, type UsageOperation } from './usage-intervals.ts';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const m = (minutes: number) => T0 + minutes * 60_000;
const op = (type: OperationType, status: OperationStatus, created: number, started: number | null, ended: number | null, costPerHour: number | null = 1.5): UsageOperation => ({
  type,
  status,
  createdMs: m(created),
  startedMs: started === null ? null : m(started),
  endedMs: ended === null ? null : m(ended),
  costPerHour,
});

/** Minutes: every kind of operation, outcome and overlap the rule names. */
const HISTORY: UsageOperation[] = [
  op('create', 'succeeded', 0, 1, 5), //         opens at 5
  op('stop', 'succeeded', 60, 61, 62), //        closes at 61            → [5, 61]      56 min
  op('start', 'failed', 120, 120, 123), //       a failed start opens nothing
  op('start', 'succeeded', 130, 130, 134), //    opens at 134
  op('restart', 'succeeded', 200, 202, 210), //  closes at 202, opens 210 → [134, 202]   68 min
  op('stop', 'canceled', 250, null, null), //    canceled while pending: never began, closes nothing
  op('rebuild', 'failed', 300, 301, 305), //     closes at 301, opens nothing → [210, 301] 91 min
  op('start', 'succeeded', 320, 320, 322), //    opens at 322
  op('stop', 'failed', 400, 400.5, 401), //      began at 400.5: closes, failed or not → [322, 400.5] 78.5 min
  op('start', 'succeeded', 420, 420, 421, 2), // opens at 421, at version 2's rate
  op('snapshot', 'succeeded', 430, 430, 431), // on a stopped workspace only: ignored either way
  op('delete', 'succeeded', 500, 501, 503), //   closes at 501           → [421, 501]    80 min
];

describe('running time from operation history', () => {
  it('finds the intervals of the fixture, worked out by hand', () => {
    // Shuffled: the order of the rows does not matter, their creation times do.
    const intervals = runningIntervals([...HISTORY].reverse());
    expect(intervals.map((i) => [(i.startMs - T0) / 60_000, (i.endMs! - T0) / 60_000])).toEqual([
      [5, 61],
      [134, 202],
      [210, 301],
      [322, 400.5],
      [421, 501],
    ]);
  });

  it('sums them within a second, whole and clipped to a window, with the cost of each version', () => {
    const intervals = runningIntervals(HISTORY);
    const now = m(10_000);
    const whole = clipIntervals(intervals, m(-1000), m(5000), now);
    expect(Math.abs(whole.seconds - (56 + 68 + 91 + 78.5 + 80) * 60)).toBeLessThan(1); // 22,410 s
    // 293.5 min at 1.5/h and 80 min at 2/h.
    expect(whole.cost).toBeCloseTo((293.5 / 60) * 1.5 + (80 / 60) * 2, 6);

    // [100, 450): [134,202] 68 + [210,301] 91 + [322,400.5] 78.5 + [421,450] 29 = 266.5 min.
    const window = clipIntervals(intervals, m(100), m(450), now);
    expect(Math.abs(window.seconds - 266.5 * 60)).toBeLessThan(1); // 15,990 s
    expect(window.cost).toBeCloseTo((237.5 / 60) * 1.5 + (29 / 60) * 2, 6);

    // A window with no running time in it, and one inside an interval.
    expect(clipIntervals(intervals, m(62), m(130), now).seconds).toBe(0);
    expect(clipIntervals(intervals, m(140), m(150), now).seconds).toBe(600);
  });

  it('counts a workspace still running up to min(to, now), through a pending or canceled stop, and until a stop begins', () => {
    const running = runningIntervals([op('create', 'succeeded', 0, 0, 10), op('stop', 'pending', 50, null, null)]);
    expect(running).toEqual([{ startMs: m(10), endMs: null, costPerHour: 1.5 }]);
    expect(clipIntervals(running, m(0), m(100), m(70)).seconds).toBe(60 * 60); // now before to: 10 → 70
    expect(clipIntervals(running, m(0), m(40), m(70)).seconds).toBe(30 * 60); //  to before now: 10 → 40
    // A stop that has begun (still running) ends the running time at its start.
    const stopping = runningIntervals([op('create', 'succeeded', 0, 0, 10), op('stop', 'running', 50, 55, null)]);
    expect(clipIntervals(stopping, m(0), m(100), m(70)).seconds).toBe(45 * 60);
  });

  it('ends an open interval at deleted_at (an orphan delete calls no provider) and counts nothing for a failed create', () => {
    const orphaned = runningIntervals([op('create', 'succeeded', 0, 0, 10)], m(40));
    expect(clipIntervals(orphaned, m(0), m(100), m(100)).seconds).toBe(30 * 60);
    expect(runningIntervals([op('create', 'failed', 0, 0, 10), op('delete', 'succeeded', 20, 21, 22)])).toEqual([]);
    expect(runningIntervals([])).toEqual([]);
    // A start-like success while running (rows edited by hand) never counts time twice.
    const twice = runningIntervals([op('create', 'succeeded', 0, 0, 10), op('start', 'succeeded', 20, 20, 30)]);
    expect(clipIntervals(twice, m(0), m(60), m(60)).seconds).toBe(50 * 60);
  });
});
