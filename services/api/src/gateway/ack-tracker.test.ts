import { describe, expect, it } from 'vitest';
import { AckTracker } from './ack-tracker.ts';

describe('AckTracker (§3 cumulative acks)', () => {
  it('advances only over a contiguous prefix', () => {
    const t = new AckTracker(0);
    expect(t.acked).toBe(-1);
    expect(t.markDurable(1)).toBe(false);
    expect(t.acked).toBe(-1);
    expect(t.markDurable(0)).toBe(true);
    expect(t.acked).toBe(1);
  });

  it('starts after what the server already has and ignores duplicates', () => {
    const t = new AckTracker(5);
    expect(t.acked).toBe(4);
    expect(t.markDurable(3)).toBe(false);
    expect(t.markDurable(5)).toBe(true);
    expect(t.markDurable(5)).toBe(false);
    expect(t.acked).toBe(5);
  });
});
