import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.ts';

describe('§6 Backoff', () => {
  it('doubles the ceiling from 0.5 s up to the 30 s cap', () => {
    const b = new Backoff({ random: () => 0.999999 });
    const ceilings = Array.from({ length: 10 }, () => b.nextDelayMs() + 1);
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it('uses full jitter: anywhere from 0 to the ceiling', () => {
    const b = new Backoff({ random: () => 0 });
    expect(b.nextDelayMs()).toBe(0);
    const half = new Backoff({ random: () => 0.5 });
    half.nextDelayMs();
    expect(half.nextDelayMs()).toBe(500);
  });

  it('starts over after reset', () => {
    const b = new Backoff({ random: () => 0.999999 });
    for (let i = 0; i < 5; i++) b.nextDelayMs();
    b.reset();
    expect(b.nextDelayMs()).toBe(499);
  });

  it('stays finite after very many failures', () => {
    const b = new Backoff({ random: () => 0.999999 });
    for (let i = 0; i < 5000; i++) b.nextDelayMs();
    expect(b.nextDelayMs()).toBe(29999);
  });
});
