import { describe, expect, it } from 'vitest';
import { OutputRing } from './output-ring.ts';

const all = (ring: OutputRing, from: number, max = 1 << 20) => Buffer.concat([...ring.slice(from, max)].map((p) => p.data)).toString();

describe('OutputRing (SHELL.md §S3)', () => {
  it('keeps the last capacity bytes by absolute offset', () => {
    const ring = new OutputRing(5);
    ring.append(Buffer.from('abc'));
    ring.append(Buffer.from('defg'));
    expect(ring.start).toBe(2);
    expect(ring.head).toBe(7);
    expect(all(ring, 2)).toBe('cdefg');
    expect(all(ring, 4)).toBe('efg');
    expect(all(ring, 7)).toBe('');
  });

  it('cuts pieces at max bytes with their offsets', () => {
    const ring = new OutputRing(100);
    ring.append(Buffer.from('0123456789'));
    const pieces = [...ring.slice(3, 3)];
    expect(pieces.map((p) => [p.offset, p.data.toString()])).toEqual([[3, '345'], [6, '678'], [9, '9']]);
  });
});
