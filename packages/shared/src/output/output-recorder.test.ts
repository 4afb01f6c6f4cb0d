import { describe, expect, it } from 'vitest';
import { OutputRecorder, type RecordedChunk } from './output-recorder.ts';
import { MAX_CHUNK_BYTES } from '../protocol/constants.ts';

const record = (maxBytes: number, tailBytes: number) => {
  const chunks: RecordedChunk[] = [];
  const rec = new OutputRecorder({ maxBytes, tailBytes }, (c) => chunks.push(c));
  const text = (stream?: 1 | 2) =>
    Buffer.concat(chunks.filter((c) => !stream || c.stream === stream).map((c) => c.data)).toString();
  return { rec, chunks, text };
};

describe('OutputRecorder', () => {
  it('numbers chunks densely across both streams', () => {
    const { rec, chunks } = record(1000, 100);
    rec.write(1, Buffer.from('a'));
    rec.write(2, Buffer.from('b'));
    rec.write(1, Buffer.from('c'));
    rec.finish();
    expect(chunks.map((c) => [c.seq, c.stream, c.data.toString()])).toEqual([
      [0, 1, 'a'],
      [1, 2, 'b'],
      [2, 1, 'c'],
    ]);
    expect(rec.truncated).toBe(false);
  });

  it('splits large writes into chunks no larger than the frame limit', () => {
    const { rec, chunks } = record(10 * MAX_CHUNK_BYTES, 0);
    rec.write(1, Buffer.alloc(MAX_CHUNK_BYTES * 2 + 5, 1));
    expect(chunks.map((c) => c.data.length)).toEqual([MAX_CHUNK_BYTES, MAX_CHUNK_BYTES, 5]);
  });

  it('keeps nothing extra when output ends exactly inside the cap', () => {
    const { rec, text } = record(10, 4);
    rec.write(1, Buffer.from('0123456789'));
    rec.finish();
    expect(text()).toBe('0123456789');
    expect(rec.truncated).toBe(false);
  });

  it('keeps head and tail with a marker counting what was left out', () => {
    const { rec, text } = record(10, 4);
    for (const ch of 'abcdefghijklmnopqrstuvwxyz') rec.write(1, Buffer.from(ch));
    rec.finish();
    expect(rec.truncated).toBe(true);
    expect(text(1)).toBe('abcdef' + 'wxyz');
    expect(text(2)).toContain('16 bytes left out');
    expect(text()).toMatch(/^abcdef\n\[vmo: .*\]\nwxyz$/);
  });

  it('keeps the tail from one write larger than the tail', () => {
    const { rec, text } = record(10, 4);
    rec.write(1, Buffer.from('abcdefghijklmnopqrstuvwxyz'));
    rec.finish();
    expect(text(1)).toBe('abcdefwxyz');
    expect(text(2)).toContain('16 bytes left out');
  });

  it('with no tail, drops everything past the cap and says so at the end', () => {
    const { rec, text } = record(5, 0);
    rec.write(2, Buffer.from('0123456789'));
    rec.finish();
    expect(text()).toMatch(/^01234\n\[vmo: .*5 bytes left out here\]\n$/);
  });

  it('ignores writes after finish', () => {
    const { rec, chunks } = record(100, 10);
    rec.finish();
    rec.write(1, Buffer.from('late'));
    expect(chunks).toEqual([]);
  });
});
