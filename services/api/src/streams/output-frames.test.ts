import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { outputFrame } from './output-frames.ts';

describe('outputFrame', () => {
  it('writes exactly the JSON of the output message, for any bytes, seq and stream', () => {
    for (let i = 0; i < 100; i++) {
      const data = randomBytes(i * 61);
      const seq = i * 1_000_003;
      const stream = ((i % 2) + 1) as 1 | 2;
      const expected = JSON.stringify({ type: 'output', seq, stream: stream === 1 ? 'stdout' : 'stderr', data: data.toString('base64') });
      expect(outputFrame(seq, stream, data).toString('utf8')).toBe(expected);
    }
  });
});
