import { describe, expect, it } from 'vitest';
import { PAST_LAST } from './cursor.ts';
import { planOutputPage, type PagePlanInput } from './plan-output-page.ts';
import type { OutputKey } from './sql/read-output-keys.ts';

const key = (index: number, seq: number, bytes = 10, endedByUpper = false): OutputKey => ({ index, jobId: `job_${index}`, target: `t${index}`, seq, bytes, endedByUpper });
const plan = (keys: OutputKey[], over: Partial<PagePlanInput> = {}) =>
  planOutputPage({ keys, limit: 100, budgetBytes: 1_000_000, at: [-1, -1], nextHolds: [], expected: new Map(keys.map((k) => [k.index, 0])), ...over });
const sent = (p: ReturnType<typeof planOutputPage>) => p.send.map((s) => [s.key.index, s.key.seq]);

describe('planOutputPage', () => {
  it('sends each child in seq order when nothing is missing, and learns what each expects next', () => {
    const p = plan([key(0, 0), key(0, 1), key(2, 0)]);
    expect(sent(p)).toEqual([[0, 0], [0, 1], [2, 0]]);
    expect(p.complete).toBe(true);
    expect(p.at).toEqual([2, 0]);
    expect(p.nextHolds).toEqual([]);
    expect([...p.learned]).toEqual([[0, 2], [2, 1]]);
  });

  it('holds a running child from its first missing seq (a later batch committed first), and goes on with the others', () => {
    const p = plan([key(0, 0), key(0, 1), key(0, 3), key(0, 4), key(1, 0)]);
    expect(sent(p)).toEqual([[0, 0], [0, 1], [1, 0]]);
    expect(p.nextHolds).toEqual([[0, 2]]);
    // The chunk after the hold carries it in its cursor; the ones before do not.
    expect(p.send.map((s) => s.holds)).toEqual([0, 0, 1]);
  });

  it('holds a child whose first chunk here does not continue what was sent', () => {
    const p = plan([key(4, 8), key(4, 9)], { expected: new Map([[4, 6]]) });
    expect(sent(p)).toEqual([]);
    expect(p.nextHolds).toEqual([[4, 6]]);
    expect(p.at).toEqual([4, PAST_LAST]);
    expect(p.complete).toBe(true);
  });

  it('sends past a hole of a child that had ended: nothing will ever fill it', () => {
    const p = plan([key(0, 0, 10, true), key(0, 2, 10, true)]);
    expect(sent(p)).toEqual([[0, 0], [0, 2]]);
    expect(p.nextHolds).toEqual([]);
  });

  it('never sends a chunk below what the child expects', () => {
    expect(sent(plan([key(0, 3), key(0, 4)], { expected: new Map([[0, 4]]) }))).toEqual([[0, 4]]);
  });

  it('stops at the byte budget (at least one chunk a page) and at the chunk limit', () => {
    const big = plan([key(0, 0, 600), key(0, 1, 600), key(0, 2, 600)], { budgetBytes: 1000 });
    expect(sent(big)).toEqual([[0, 0]]);
    expect(big.complete).toBe(false);
    expect(big.at).toEqual([0, 0]);
    const huge = plan([key(0, 0, 5000)], { budgetBytes: 1000 });
    expect(sent(huge)).toEqual([[0, 0]]);
    expect(huge.complete).toBe(true);
    const limited = plan([key(0, 0), key(0, 1), key(0, 2)], { limit: 2 });
    expect(sent(limited)).toEqual([[0, 0], [0, 1]]);
    expect(limited.complete).toBe(false);
  });

  it('continues a page from its position and the holds found before it', () => {
    const p = plan([key(3, 5), key(3, 6)], { at: [3, 4], nextHolds: [[1, 2]], expected: new Map([[3, 5]]) });
    expect(sent(p)).toEqual([[3, 5], [3, 6]]);
    expect(p.nextHolds).toEqual([[1, 2]]);
    expect(p.send.map((s) => s.holds)).toEqual([1, 1]);
  });
});
