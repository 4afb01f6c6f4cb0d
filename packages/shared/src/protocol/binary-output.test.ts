import { describe, expect, it } from 'vitest';
import { MAX_CHUNK_BYTES } from './constants.ts';
import { decodeOutputFrame, encodeOutputFrame, OUTPUT_FRAME_KIND, type OutputFrame } from './binary-output.ts';

const jobId = 'job_0123456789abcdefghij';

/** A frame built by hand, so the malformed cases do not depend on the encoder. */
function rawFrame({ kind = OUTPUT_FRAME_KIND, stream = 1, seq = 0, id = jobId, idLength, data = Buffer.from('x') }: { kind?: number; stream?: number; seq?: number; id?: string; idLength?: number; data?: Buffer }): Buffer {
  const idBytes = Buffer.from(id, 'ascii');
  const header = Buffer.alloc(7);
  header.writeUInt8(kind, 0);
  header.writeUInt8(stream, 1);
  header.writeUInt32BE(seq, 2);
  header.writeUInt8(idLength ?? idBytes.length, 6);
  return Buffer.concat([header, idBytes, data]);
}

describe('§3 binary output frame', () => {
  it.each<[string, OutputFrame]>([
    ['stdout text', { jobId, seq: 0, stream: 1, data: Buffer.from('hello\n') }],
    ['stderr', { jobId, seq: 7, stream: 2, data: Buffer.from('oops') }],
    ['every byte value', { jobId, seq: 1, stream: 1, data: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) }],
    ['the largest seq', { jobId, seq: 2 ** 31 - 1, stream: 1, data: Buffer.from([0]) }],
    ['a chunk of exactly the size limit', { jobId, seq: 3, stream: 2, data: Buffer.alloc(MAX_CHUNK_BYTES, 0xab) }],
  ])('round-trips %s', (_what, frame) => {
    const decoded = decodeOutputFrame(encodeOutputFrame(frame));
    expect(typeof decoded).toBe('object');
    const f = decoded as OutputFrame;
    expect({ jobId: f.jobId, seq: f.seq, stream: f.stream }).toEqual({ jobId: frame.jobId, seq: frame.seq, stream: frame.stream });
    expect(f.data.equals(frame.data)).toBe(true);
  });

  it('lays the header out as PROTOCOL.md says', () => {
    const buf = encodeOutputFrame({ jobId, seq: 0x01020304, stream: 2, data: Buffer.from('z') });
    expect([...buf.subarray(0, 7)]).toEqual([1, 2, 1, 2, 3, 4, jobId.length]);
    expect(buf.toString('ascii', 7, 7 + jobId.length)).toBe(jobId);
    expect(buf.toString('ascii', 7 + jobId.length)).toBe('z');
  });

  it.each<[string, Buffer, RegExp]>([
    ['an empty frame', Buffer.alloc(0), /shorter than its header/],
    ['a frame shorter than the header', Buffer.from([1, 1, 0, 0, 0]), /shorter than its header/],
    ['an unknown kind', rawFrame({ kind: 2 }), /unknown binary frame kind 2/],
    ['kind zero', rawFrame({ kind: 0 }), /unknown binary frame kind 0/],
    ['stream 0', rawFrame({ stream: 0 }), /unknown stream 0/],
    ['stream 3', rawFrame({ stream: 3 }), /unknown stream 3/],
    ['a seq past 2^31-1', rawFrame({ seq: 2 ** 31 }), /seq out of range/],
    ['the largest u32 seq', rawFrame({ seq: 2 ** 32 - 1 }), /seq out of range/],
    ['a job id running past the frame', rawFrame({ idLength: 200, data: Buffer.alloc(0) }), /job id runs past the frame/],
    ['a job id of the wrong shape', rawFrame({ id: 'job_1' }), /bad job id/],
    ['a job id with upper case', rawFrame({ id: 'job_0123456789ABCDEFGHIJ' }), /bad job id/],
    ['a job id length that swallows part of the data', rawFrame({ idLength: jobId.length + 1, data: Buffer.from('xy') }), /bad job id/],
    ['an empty job id', rawFrame({ id: '' }), /bad job id/],
    ['no data', rawFrame({ data: Buffer.alloc(0) }), /empty output chunk/],
    ['data over the chunk limit', rawFrame({ data: Buffer.alloc(MAX_CHUNK_BYTES + 1) }), /over the size limit/],
  ])('refuses %s with a reason', (_what, buf, reason) => {
    const decoded = decodeOutputFrame(buf);
    expect(typeof decoded).toBe('string');
    expect(decoded).toMatch(reason);
  });
});
