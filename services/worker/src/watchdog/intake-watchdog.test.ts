import { describe, expect, it } from 'vitest';
import { IntakeWatch } from './intake-watchdog.ts';

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
