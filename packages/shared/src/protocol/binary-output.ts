/**
 * §3 Output frame (binary), agent → server:
 *
 *   0      u8   kind = 1 (output)
 *   1      u8   stream: 1 stdout, 2 stderr
 *   2..5   u32  seq, big-endian
 *   6      u8   L = length of the job id
 *   7..    L bytes job id (ASCII), then the data (≤ MAX_CHUNK_BYTES)
 *
 * Binary keeps output byte-exact with no base64 cost on the hottest path.
 */
import { MAX_CHUNK_BYTES } from './constants.ts';

export const OUTPUT_FRAME_KIND = 1;

export interface OutputFrame {
  jobId: string;
  seq: number;
  stream: 1 | 2;
  data: Buffer;
}

export function encodeOutputFrame(frame: OutputFrame): Buffer {
  const id = Buffer.from(frame.jobId, 'ascii');
  const header = Buffer.allocUnsafe(7 + id.length);
  header.writeUInt8(OUTPUT_FRAME_KIND, 0);
  header.writeUInt8(frame.stream, 1);
  header.writeUInt32BE(frame.seq, 2);
  header.writeUInt8(id.length, 6);
  id.copy(header, 7);
  return Buffer.concat([header, frame.data]);
}

/** Decode and validate; returns a reason string for a malformed frame. */
export function decodeOutputFrame(buf: Buffer): OutputFrame | string {
  if (buf.length < 7) return 'output frame shorter than its header';
  if (buf[0] !== OUTPUT_FRAME_KIND) return `unknown binary frame kind ${buf[0]}`;
  const stream = buf[1];
  if (stream !== 1 && stream !== 2) return `unknown stream ${stream}`;
  const seq = buf.readUInt32BE(2);
  if (seq > 2 ** 31 - 1) return 'seq out of range';
  const len = buf[6]!;
  if (buf.length < 7 + len) return 'job id runs past the frame';
  const jobId = buf.toString('ascii', 7, 7 + len);
  if (!/^job_[0-9a-z]{20}$/.test(jobId)) return 'bad job id';
  const data = buf.subarray(7 + len);
  if (data.length === 0) return 'empty output chunk';
  if (data.length > MAX_CHUNK_BYTES) return 'output chunk over the size limit';
  return { jobId, seq, stream, data };
}
