/**
 * SHELL.md §S5 shell output frame (binary), agent → server:
 *
 *   0      u8   kind = 2 (shell output)
 *   1..6   u48  offset of the first byte, big-endian
 *   7      u8   L = length of the session id
 *   8..    L bytes session id (ASCII), then the data (1 ≤ n ≤ MAX_CHUNK_BYTES)
 */
import { MAX_CHUNK_BYTES } from './constants.ts';

export const SHELL_OUTPUT_FRAME_KIND = 2;

export interface ShellOutputFrame {
  session: string;
  offset: number;
  data: Buffer;
}

export function encodeShellOutputFrame(frame: ShellOutputFrame): Buffer {
  const id = Buffer.from(frame.session, 'ascii');
  const header = Buffer.allocUnsafe(8 + id.length);
  header.writeUInt8(SHELL_OUTPUT_FRAME_KIND, 0);
  header.writeUIntBE(frame.offset, 1, 6);
  header.writeUInt8(id.length, 7);
  id.copy(header, 8);
  return Buffer.concat([header, frame.data]);
}

/** Decode and validate; a string is why the frame is malformed (the socket closes 1008). */
export function decodeShellOutputFrame(buf: Buffer): ShellOutputFrame | string {
  if (buf.length < 8) return 'shell frame shorter than its header';
  if (buf[0] !== SHELL_OUTPUT_FRAME_KIND) return `unknown binary frame kind ${buf[0]}`;
  const offset = buf.readUIntBE(1, 6);
  const len = buf[7]!;
  if (buf.length < 8 + len) return 'session id runs past the frame';
  const session = buf.toString('ascii', 8, 8 + len);
  if (!/^shs_[0-9a-z]{20}$/.test(session)) return 'bad session id';
  const data = buf.subarray(8 + len);
  if (data.length === 0) return 'empty shell chunk';
  if (data.length > MAX_CHUNK_BYTES) return 'shell chunk over the size limit';
  return { session, offset, data };
}
