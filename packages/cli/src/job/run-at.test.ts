import { describe, expect, it } from 'vitest';
import { parseAt, parsePriority } from './run-at.ts';

describe('vmo run --at', () => {
  it('sends a time with an offset as written, a local time as UTC, and +DURATION from now', () => {
    expect(parseAt('2030-01-31T22:00:00Z')).toBe('2030-01-31T22:00:00Z');
    expect(parseAt('2030-01-31T23:00+01:00')).toBe('2030-01-31T23:00+01:00');
    expect(parseAt('2030-01-31 22:00')).toBe(new Date(2030, 0, 31, 22, 0).toISOString());
    const before = Date.now();
    const at = Date.parse(parseAt('+10m'));
    expect(at).toBeGreaterThanOrEqual(before + 600_000);
    expect(at).toBeLessThan(Date.now() + 600_000 + 1);
  });

  it.each(['tomorrow', '2030-01-31', '22:00', '+soon', '2030-13-01 25:00'])('refuses %j naming --at', (text) => {
    expect(() => parseAt(text)).toThrow(/^--at: /);
  });
});

describe('vmo run --priority', () => {
  it.each([['1', 1], ['5', 5], ['10', 10]])('takes %s', (text, n) => expect(parsePriority(text)).toBe(n));
  it.each(['0', '11', '2.5', 'high', '-1', ''])('refuses %j naming --priority', (text) => expect(() => parsePriority(text)).toThrow(/^--priority: /));
});
