import { describe, expect, it } from 'vitest';
import type { ResolvedStrategy } from '../domain/run-status.ts';
import { decideRollUp } from './decide-roll-up.ts';
import type { ChildCounts } from './child-counts.ts';
import type { RunRow } from './run-row.ts';

const NOW = new Date('2026-01-01T00:00:10Z');

function run(strategy: Partial<ResolvedStrategy>, over: Partial<RunRow> = {}): RunRow {
  return {
    status: 'queued',
    strategy: { maxConcurrency: 10, maxErrors: null, canary: null, ...strategy },
    canaryPassedAt: null,
    cancelRequestedAt: null,
    startedAt: null,
    finishedAt: null,
    ...over,
  } as RunRow;
}

function counts(c: Partial<ChildCounts>): ChildCounts {
  const base = { total: 10, held: 10, queued: 10, active: 0, failures: 0, terminal: 0, ok: 0, canaryOk: 0, canaryBad: 0, firstStartedAt: null, now: NOW };
  return { ...base, ...c };
}

describe('decideRollUp', () => {
  it('releases maxConcurrency − active, never more than are held', () => {
    expect(decideRollUp(run({ maxConcurrency: 3 }), counts({})).release).toEqual({ count: 3, beforeIndex: null });
    expect(decideRollUp(run({ maxConcurrency: 3 }), counts({ active: 2, held: 8 })).release.count).toBe(1);
    expect(decideRollUp(run({ maxConcurrency: 3 }), counts({ active: 3 })).release.count).toBe(0);
    expect(decideRollUp(run({ maxConcurrency: 5 }), counts({ held: 2, active: 0 })).release.count).toBe(2);
  });

  it('releases nothing before the run\'s runAt (issue 14), stays queued, and may still be canceled; at runAt the strategy starts', () => {
    const ahead = run({ maxConcurrency: 3 }, { runAt: new Date(NOW.getTime() + 1) });
    expect(decideRollUp(ahead, counts({}))).toMatchObject({ status: 'queued', release: { count: 0 }, stop: null, cancelQueued: false });
    expect(decideRollUp({ ...ahead, cancelRequestedAt: NOW }, counts({}))).toMatchObject({ release: { count: 0 }, cancelQueued: true });
    expect(decideRollUp(run({ maxConcurrency: 3 }, { runAt: NOW }), counts({})).release).toEqual({ count: 3, beforeIndex: null });
  });

  it('canaries alone, then the bake, then the rest', () => {
    const canary = { canary: { count: 2, bakeMs: 5000 } };
    expect(decideRollUp(run(canary), counts({})).release).toEqual({ count: 10, beforeIndex: 2 });
    const passing = decideRollUp(run(canary), counts({ canaryOk: 2, held: 8 }));
    expect(passing).toMatchObject({ canaryPassedAt: NOW, release: { count: 0 }, bakeRemainingMs: 5000 });
    const baking = decideRollUp(run(canary, { canaryPassedAt: new Date(NOW.getTime() - 4000) }), counts({ canaryOk: 2, held: 8 }));
    expect(baking).toMatchObject({ release: { count: 0 }, bakeRemainingMs: 1000 });
    const baked = decideRollUp(run(canary, { canaryPassedAt: new Date(NOW.getTime() - 5000) }), counts({ canaryOk: 2, held: 8 }));
    expect(baked).toMatchObject({ release: { count: 8, beforeIndex: null }, bakeRemainingMs: null });
  });

  it('a failed canary stops before maxErrors does; a stop with nothing queued skips nothing', () => {
    const d = decideRollUp(run({ maxErrors: 0, canary: { count: 1, bakeMs: 0 } }), counts({ canaryBad: 1, failures: 1, held: 9 }));
    expect(d).toMatchObject({ stop: 'canary_failed', release: { count: 0 } });
    expect(decideRollUp(run({ maxErrors: 1 }), counts({ failures: 2, held: 3 })).stop).toBe('max_errors_exceeded');
    expect(decideRollUp(run({ maxErrors: 1 }), counts({ failures: 1, held: 3 })).stop).toBeNull(); // at the limit, not over it
    expect(decideRollUp(run({ maxErrors: 1 }), counts({ failures: 2, held: 0, queued: 0 })).stop).toBeNull();
  });

  it('a stop skips children released but not yet started too: with every child released (the default maxConcurrency) maxErrors 0 still stops the rest', () => {
    const d = decideRollUp(run({ maxConcurrency: 10, maxErrors: 0 }), counts({ failures: 1, terminal: 1, held: 0, queued: 9, active: 9 }));
    expect(d).toMatchObject({ stop: 'max_errors_exceeded', release: { count: 0 } });
    const canary = decideRollUp(run({ canary: { count: 2, bakeMs: 0 } }), counts({ canaryBad: 1, terminal: 1, held: 8, queued: 9, active: 1 }));
    expect(canary.stop).toBe('canary_failed');
  });

  it('derives the status from the children: queued, running, then succeeded, failed or canceled', () => {
    expect(decideRollUp(run({}), counts({ queued: 10 })).status).toBe('queued');
    expect(decideRollUp(run({}), counts({ queued: 9, active: 1 })).status).toBe('running');
    expect(decideRollUp(run({}), counts({ queued: 0, held: 0, terminal: 10, ok: 10 })).status).toBe('succeeded');
    expect(decideRollUp(run({}), counts({ queued: 0, held: 0, terminal: 10, ok: 9 })).status).toBe('failed');
    const canceled = decideRollUp(run({}, { cancelRequestedAt: NOW }), counts({ queued: 0, held: 0, terminal: 10, ok: 10 }));
    expect(canceled).toMatchObject({ status: 'canceled', finishedAt: NOW });
  });

  it('a canceled run releases nothing and cancels what is still queued', () => {
    const d = decideRollUp(run({}, { cancelRequestedAt: NOW }), counts({ queued: 4, held: 3, active: 1 }));
    expect(d).toMatchObject({ release: { count: 0 }, cancelQueued: true, stop: null });
  });
});
