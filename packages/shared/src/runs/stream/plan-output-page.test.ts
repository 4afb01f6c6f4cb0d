import { describe, expect, it } from 'vitest';
import { chunkPosition, PAST_LAST_POSITION } from './chunk-position.ts';
import { planOutputPage, type PagePlanInput } from './plan-output-page.ts';
import type { OutputKey } from './sql/read-output-keys.ts';

// Attempt 0 in the tests of one attempt: its positions are its seqs, so expectations read as seqs.
const key = (index: number, seq: number, bytes = 10, endedByUpper = false, attempt = 0): OutputKey => ({ index, jobId: `job_${index}`, target: `t${index}`, attempt, seq, position: chunkPosition(attempt, seq), bytes, endedByUpper });
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
    expect(p.at).toEqual([4, PAST_LAST_POSITION]);
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

  describe('a retried child (issue 14: seqs start at 0 again in each attempt)', () => {
    const at = (attempt: number, seq: number) => chunkPosition(attempt, seq);
    const attemptKey = (attempt: number, seq: number, endedByUpper = false) => key(0, seq, 10, endedByUpper, attempt);

    it('sends the next attempt from its seq 0 to a subscriber that had the previous attempt up to a later seq', () => {
      // Attempt 1 went to seq 5: the subscriber expects (1, 6). Attempt 2's seqs 0..6 are new bytes, not repeats.
      const p = plan([0, 1, 2, 3, 4, 5, 6].map((s) => attemptKey(2, s)), { expected: new Map([[0, at(1, 6)]]) });
      expect(p.send.map((s) => [s.key.attempt, s.key.seq])).toEqual([0, 1, 2, 3, 4, 5, 6].map((s) => [2, s]));
      expect(p.nextHolds).toEqual([]);
      expect(p.learned.get(0)).toBe(at(2, 7));
    });

    it('goes from one attempt to the next within a page, in order', () => {
      const p = plan([attemptKey(1, 0), attemptKey(1, 1), attemptKey(2, 0), attemptKey(3, 0)], { expected: new Map([[0, 0]]) });
      expect(p.send.map((s) => [s.key.attempt, s.key.seq])).toEqual([[1, 0], [1, 1], [2, 0], [3, 0]]);
    });

    it("holds when the next attempt's seq 0 is not visible yet but its seq 1 is, and never skips into an attempt's middle", () => {
      const p = plan([attemptKey(2, 1)], { expected: new Map([[0, at(1, 3)]]) });
      expect(sent(p)).toEqual([]);
      expect(p.nextHolds).toEqual([[0, at(1, 3)]]);
      const next = plan([attemptKey(2, 0), attemptKey(2, 1)], { expected: new Map([[0, at(1, 3)]]) });
      expect(next.send.map((s) => [s.key.attempt, s.key.seq])).toEqual([[2, 0], [2, 1]]);
    });

    it('never sends a chunk of an attempt the subscriber is past', () => {
      const p = plan([attemptKey(1, 7), attemptKey(2, 0)], { expected: new Map([[0, at(2, 0)]]) });
      expect(p.send.map((s) => [s.key.attempt, s.key.seq])).toEqual([[2, 0]]);
    });
  });
});
