import { describe, expect, it } from 'vitest';
import type { JobChange } from '@vmo/shared/jobs';
import { OwnJobs, REMEMBER_MAX, REMEMBER_MS } from './own-jobs.ts';

const exit = (attempt: number): JobChange => ({ kind: 'exit', attempt, exit: { exitCode: 0, signal: null, truncated: false, stopped: false } });

describe('OwnJobs', () => {
  it('holds a job until every hold is released', () => {
    const own = new OwnJobs();
    own.hold('a');
    own.hold('a');
    own.release('a');
    expect(own.holds('a')).toBe(true);
    own.release('a');
    expect(own.holds('a')).toBe(false);
  });

  it('remembers an end per attempt, for REMEMBER_MS, the newest REMEMBER_MAX at most', () => {
    const own = new OwnJobs();
    own.remember('a', 1, exit(1), 0);
    expect(own.endOf('a', 1)).toEqual(exit(1));
    expect(own.endOf('a', 2)).toBeUndefined();
    own.remember('b', 1, exit(1), REMEMBER_MS); // 'a' is exactly REMEMBER_MS old: kept
    expect(own.endOf('a', 1)).toBeDefined();
    own.remember('c', 1, exit(1), REMEMBER_MS + 1); // now older: forgotten
    expect(own.endOf('a', 1)).toBeUndefined();
    expect(own.endOf('b', 1)).toBeDefined();
    for (let i = 0; i < REMEMBER_MAX; i++) own.remember(`j${i}`, 1, exit(1), REMEMBER_MS + 2);
    expect(own.endOf('b', 1)).toBeUndefined(); // the oldest go first
    expect(own.endOf('c', 1)).toBeUndefined();
    expect(own.endOf('j0', 1)).toBeDefined();
    expect(own.endOf(`j${REMEMBER_MAX - 1}`, 1)).toBeDefined();
  });
});
