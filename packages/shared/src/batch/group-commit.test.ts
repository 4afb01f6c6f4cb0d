import { describe, expect, it } from 'vitest';
import { BatchOverdue } from './batch-overdue.ts';
import { GroupCommit } from './group-commit.ts';

/** A promise and its settlers: a statement the test answers (or never does) when it chooses. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Whether `p` has settled by the time the promises already due have run (no timer involved). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

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

  describe('deadline', () => {
    /** A commit whose statements the test holds: each call is recorded with its settlers. */
    function heldCommit() {
      const calls: { items: number[]; statement: ReturnType<typeof deferred<readonly (number | Error)[]>> }[] = [];
      const called: (() => void)[] = [];
      return {
        calls,
        commit: (items: readonly number[]) => {
          const statement = deferred<readonly (number | Error)[]>();
          calls.push({ items: [...items], statement });
          called.splice(0).forEach((f) => f());
          return statement.promise;
        },
        /** Resolves once the commit has been called `n` times in all. */
        async calledTimes(n: number) {
          while (calls.length < n) await new Promise<void>((r) => called.push(r));
        },
      };
    }

    it("a write's batch past its deadline frees its slot; its callers keep waiting for the statement's own outcome", async () => {
      const held = heldCommit();
      const gc = new GroupCommit<number, number>({ commit: held.commit, maxInFlight: 1, maxOverdue: 2, deadlineMs: 20 }); // whenOverdue: 'wait', the default
      const stalled = gc.add(1);
      await held.calledTimes(1);
      const later = gc.add(2); // behind the one slot, until the deadline frees it
      await held.calledTimes(2);
      expect(held.calls.map((c) => c.items)).toEqual([[1], [2]]);
      expect(gc.overdueBatches).toBe(1);
      held.calls[1]!.statement.resolve([20]);
      expect(await later).toBe(20);
      // LOUD: not answered "failed" (it may still commit) nor done (not durable yet): still waiting.
      expect(await settled(stalled)).toBe(false);
      held.calls[0]!.statement.resolve([10]); // the statement settles at last: its caller gets exactly that
      expect(await stalled).toBe(10);
      await gc.drain();
      expect(gc.overdueBatches).toBe(0);
    });

    it("a read's batch past its deadline rejects its callers with a 503 BatchOverdue; later batches proceed", async () => {
      const held = heldCommit();
      const gc = new GroupCommit<number, number>({ commit: held.commit, maxInFlight: 1, maxOverdue: 2, deadlineMs: 20, whenOverdue: 'reject', label: 'the token lookup' });
      const stalled = [1, 2].map((n) => gc.add(n));
      await held.calledTimes(1);
      const later = gc.add(3);
      const refusals = await Promise.allSettled(stalled);
      for (const r of refusals) {
        expect(r.status).toBe('rejected');
        const err = (r as PromiseRejectedResult).reason as BatchOverdue;
        expect(err).toBeInstanceOf(BatchOverdue);
        expect(err).toMatchObject({ status: 503, code: 'unavailable', reason: 'deadline', details: { retryAfterSeconds: 1 } });
        expect(err.message).toMatch(/^the token lookup did not finish within 20 ms/);
      }
      await held.calledTimes(2);
      held.calls[1]!.statement.resolve([30]);
      expect(await later).toBe(30);
      // drain() waits for no abandoned statement: its callers have their answer.
      await gc.drain();
    });

    it('a late outcome after the deadline answers nobody twice, and a late failure is nobody\'s unhandled rejection', async () => {
      const held = heldCommit();
      let alone = 0;
      const gc = new GroupCommit<number, number>({ commit: held.commit, alone: async (n) => (alone++, n), deadlineMs: 20, whenOverdue: 'reject' });
      const first = Promise.allSettled([1, 2].map((n) => gc.add(n)));
      await held.calledTimes(1);
      expect((await first).map((r) => r.status)).toEqual(['rejected', 'rejected']);
      const second = gc.add(3);
      await held.calledTimes(2);
      // The first statement settles now, with values, and the second fails late too after its own deadline.
      held.calls[0]!.statement.resolve([10, 20]);
      await expect(second).rejects.toBeInstanceOf(BatchOverdue);
      held.calls[1]!.statement.reject(new Error('canceling statement due to lock timeout'));
      await gc.drain();
      await new Promise((r) => setImmediate(r));
      expect((await first).map((r) => (r as PromiseRejectedResult).reason)).toSatisfy((reasons: unknown[]) => reasons.every((e) => e instanceof BatchOverdue));
      expect(alone).toBe(0); // no item-by-item retry for callers that were already answered
      expect(gc.overdueBatches).toBe(0);
      // And the slots are all free again: a new item goes and is answered.
      const next = gc.add(4);
      await held.calledTimes(3);
      held.calls[2]!.statement.resolve([40]);
      expect(await next).toBe(40);
    });

    it('at maxOverdue open overdue batches, waiting and new items are refused at once, never sent; one settling lets items go again', async () => {
      const held = heldCommit();
      const gc = new GroupCommit<number, number>({ commit: held.commit, maxInFlight: 1, maxOverdue: 2, deadlineMs: 20 });
      const stalled = [gc.add(1)];
      await held.calledTimes(1);
      stalled.push(gc.add(2)); // goes when the first is overdue, and hangs too
      await held.calledTimes(2);
      const waiting = gc.add(3); // behind the second: refused when it is overdue (2 of 2)
      await expect(waiting).rejects.toMatchObject({ status: 503, code: 'unavailable', reason: 'refused' });
      expect(gc.overdueBatches).toBe(2);
      const refused = gc.add(4);
      await expect(refused).rejects.toMatchObject({ reason: 'refused', details: { retryAfterSeconds: 1 } });
      await expect(refused).rejects.toThrow(/was not tried: 2 earlier ones are still unanswered/);
      expect(held.calls.map((c) => c.items)).toEqual([[1], [2]]); // 3 and 4 never reached the store
      // The writes past their deadline were never told anything.
      expect(await settled(Promise.race(stalled))).toBe(false);
      held.calls[0]!.statement.resolve([10]);
      expect(await stalled[0]).toBe(10);
      await expect.poll(() => gc.overdueBatches).toBe(1);
      const after = gc.add(5);
      await held.calledTimes(3);
      held.calls[2]!.statement.resolve([50]);
      held.calls[1]!.statement.resolve([20]);
      expect(await Promise.all([after, stalled[1]])).toEqual([50, 20]);
    });

    it('drain() waits for a write past its deadline: its caller has no outcome yet', async () => {
      const held = heldCommit();
      const gc = new GroupCommit<number, number>({ commit: held.commit, deadlineMs: 10 });
      const write = gc.add(1);
      await held.calledTimes(1);
      let drained = false;
      const draining = gc.drain().then(() => (drained = true));
      await expect.poll(() => gc.overdueBatches).toBe(1);
      expect(drained).toBe(false);
      held.calls[0]!.statement.resolve([1]);
      await draining;
      expect(await write).toBe(1);
    });
  });
});
