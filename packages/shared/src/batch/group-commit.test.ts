import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.ts';

describe('GroupCommit', () => {
  it('commits what arrives in one turn together and answers each caller its own outcome', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>({
      commit: async (items) => {
        batches.push([...items]);
        return items.map((n) => (n === 3 ? new Error('three is refused') : n * 10));
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => gc.add(n)));
    expect(batches).toEqual([[1, 2, 3, 4]]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 20, 'three is refused', 40]);
  });

  it('gathers items behind full slots and never adds one to a batch already running', async () => {
    const batches: number[][] = [];
    const release: (() => void)[] = [];
    const gc = new GroupCommit<number, number>({
      maxInFlight: 1,
      commit: async (items) => {
        batches.push([...items]);
        await new Promise<void>((r) => release.push(r));
        return items;
      },
    });
    const first = gc.add(1);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1]]);
    const later = [2, 3, 4].map((n) => gc.add(n));
    expect(batches).toEqual([[1]]); // 2–4 wait: the one slot is taken
    release.shift()!();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    release.shift()!();
    expect(await Promise.all(later)).toEqual([2, 3, 4]);
  });

  it('splits at maxBatch', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>({ maxBatch: 3, maxInFlight: 4, commit: async (items) => (sizes.push(items.length), items) });
    await Promise.all(Array.from({ length: 7 }, (_, i) => gc.add(i)));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(7);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
  });

  it('a batch that throws is tried item by item through `alone`: each caller gets its own outcome', async () => {
    const gc = new GroupCommit<number, number>({
      commit: async () => {
        throw new Error('batch refused');
      },
      alone: async (n) => {
        if (n === 2) throw new Error('two alone');
        return n;
      },
    });
    const results = await Promise.allSettled([1, 2, 3].map((n) => gc.add(n)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([1, 'two alone', 3]);
  });

  it('an error `aloneWhen` refuses reaches every caller as it is, with no second try', async () => {
    let tries = 0;
    const gc = new GroupCommit<number, number>({
      commit: async () => Promise.reject(new Error('connection lost')),
      alone: async (n) => (tries++, n),
      aloneWhen: (err) => !(err as Error).message.startsWith('connection'),
    });
    const results = await Promise.allSettled([1, 2].map((n) => gc.add(n)));
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).toEqual(['connection lost', 'connection lost']);
    expect(tries).toBe(0);
  });

  it('without `alone`, every caller of a failed batch gets its error; drain waits for all', async () => {
    const gc = new GroupCommit<number, number>({ commit: async () => Promise.reject(new Error('down')) });
    const all = Promise.allSettled([1, 2].map((n) => gc.add(n)));
    await gc.drain();
    expect((await all).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
