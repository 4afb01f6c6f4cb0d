import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface SlowSubscriberResult {
  /** JSON messages received, in order. */
  messages: any[];
  stdout: Buffer;
  seqs: number[];
  /** The server's close code (0 if the socket ended without a close frame). */
  closeCode: number;
  closeReason: string;
}

/**
 * A WebSocket subscriber that really reads slowly: a raw TCP socket in paused mode from which the
 * test takes `bytesPerSecond` at a time, so the kernel buffers fill and the server's send buffer
 * grows, as behind a slow link. `finish()` then reads everything left at full speed and parses the
 * frames (server frames are unmasked), to learn how the server closed the stream.
 */
export class SlowSubscriber {
  private readonly socket: Socket;
  private readonly received: Buffer[] = [];
  private readonly timer: NodeJS.Timeout;
  private ended = false;
  private readonly endedP: Promise<void>;
  readBytes = 0;

  constructor(baseUrl: string, token: string, jobId: string, bytesPerSecond = 1024) {
    const url = new URL(baseUrl);
    this.socket = connect(Number(url.port), url.hostname);
    this.socket.on('error', () => {});
    this.socket.write(
      `GET /v1/jobs/${jobId}/stream HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    // Paused mode: Node fills the socket's buffer up to its high-water mark, then stops reading
    // the kernel, whose buffers fill, then TCP's window closes and the server's writes back up.
    this.socket.on('readable', () => {});
    this.endedP = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.once('close', () => (this.ended = true));
    this.timer = setInterval(() => {
      const n = Math.min(bytesPerSecond, this.socket.readableLength);
      const chunk = n > 0 ? (this.socket.read(n) as Buffer | null) : null;
      if (chunk) this.take(chunk);
    }, 1000);
  }

  private take(chunk: Buffer): void {
    this.received.push(chunk);
    this.readBytes += chunk.length;
  }

  /**
   * Read the rest at full speed until the server's close frame (or the end of the socket), and
   * decode what came. (We never answer the close: the server cuts the socket 30 s later.)
   */
  async finish(): Promise<SlowSubscriberResult> {
    clearInterval(this.timer);
    this.socket.removeAllListeners('readable');
    const closed = new Promise<void>((resolve) => {
      this.socket.on('data', (d: Buffer) => {
        this.take(d);
        // A close frame is short and last: look for its opcode near the end before decoding all.
        if (d.length >= 4 && d.subarray(Math.max(0, d.length - 130)).includes(0x88) && decode(Buffer.concat(this.received)).closeCode !== 0) resolve();
      });
    });
    this.socket.resume();
    if (!this.ended) await Promise.race([closed, this.endedP]);
    this.socket.destroy();
    return decode(Buffer.concat(this.received));
  }

  destroy(): void {
    clearInterval(this.timer);
    this.socket.destroy();
  }
}

function decode(raw: Buffer): SlowSubscriberResult {
  const headerEnd = raw.indexOf('\r\n\r\n');
  if (!raw.subarray(0, headerEnd).toString().startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${raw.subarray(0, 200).toString()}`);
  const result: SlowSubscriberResult = { messages: [], stdout: Buffer.alloc(0), seqs: [], closeCode: 0, closeReason: '' };
  const out: Buffer[] = [];
  let off = headerEnd + 4;
  while (off + 2 <= raw.length) {
    const opcode = raw[off]! & 0x0f;
    let len = raw[off + 1]! & 0x7f;
    let p = off + 2;
    if (len === 126) {
      len = raw.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(raw.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > raw.length) break; // cut short by the server
    const payload = raw.subarray(p, p + len);
    off = p + len;
    if (opcode === 0x1) {
      const msg = JSON.parse(payload.toString('utf8'));
      result.messages.push(msg);
      if (msg.type === 'output') {
        result.seqs.push(msg.seq);
        if (msg.stream === 'stdout') out.push(Buffer.from(msg.data, 'base64'));
      }
    } else if (opcode === 0x8) {
      result.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      result.closeReason = payload.subarray(2).toString('utf8');
      break;
    }
  }
  result.stdout = Buffer.concat(out);
  return result;
}
