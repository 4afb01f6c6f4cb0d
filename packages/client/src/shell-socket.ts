import { BEARER_SUBPROTOCOL_PREFIX, STREAM_SUBPROTOCOL } from '@vmo/shared/api';
import { apiError } from './errors.ts';
import type { StreamTarget } from './stream.ts';

/** One open shell socket (SHELL.md §S2): binary frames are terminal bytes, text frames JSON control. */
export interface ShellSocket {
  sendBinary(data: Uint8Array): void;
  sendText(text: string): void;
  close(code?: number, reason?: string): void;
  /** Drop the connection without a close handshake (a test's dropped network, an abort). */
  terminate(): void;
}

export interface ShellSocketHandlers {
  onBinary(data: Uint8Array): void;
  onText(text: string): void;
  onClose(code: number, reason: string): void;
}

/**
 * Open `url` (ws: or wss:) and resolve once it is open; reject with VmoApiError when the upgrade is
 * refused (Node: status and error body; a browser shows neither, so there a plain Error), or with
 * the connection's error. After it resolves, every frame and the close go to `handlers`.
 */
export function connectShellSocket(target: StreamTarget, url: string, handlers: ShellSocketHandlers): Promise<ShellSocket> {
  return target.WebSocket ? browserSocket(target, url, handlers) : nodeSocket(url, target.token, handlers);
}

async function nodeSocket(url: string, token: string | undefined, handlers: ShellSocketHandlers): Promise<ShellSocket> {
  const { WebSocket } = await import('ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [STREAM_SUBPROTOCOL], { headers: token ? { authorization: `Bearer ${token}` } : {} });
    let opened = false;
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 64 * 1024) text += d; // an error body is small; never hold more
      });
      const done = () => {
        reject(apiError(res.statusCode ?? 0, text));
        ws.terminate();
      };
      res.on('end', done);
      res.on('error', done);
    });
    ws.on('error', (err) => {
      if (!opened) reject(err);
    });
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) handlers.onBinary(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      else handlers.onText(buf.toString('utf8'));
    });
    ws.on('close', (code, reason) => {
      if (!opened) return reject(new Error(`the shell socket closed before it opened (${code})`));
      handlers.onClose(code, reason.toString());
    });
    ws.on('open', () => {
      opened = true;
      resolve({
        sendBinary: (data) => ws.readyState === ws.OPEN && ws.send(data, { binary: true }),
        sendText: (text) => ws.readyState === ws.OPEN && ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
      });
    });
  });
}

/** A browser's WebSocket: the token as the subprotocols `vmo.v1` + `bearer.<token>` (it cannot set headers). */
interface BrowserShellSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
}

function browserSocket(target: StreamTarget, url: string, handlers: ShellSocketHandlers): Promise<ShellSocket> {
  return new Promise((resolve, reject) => {
    const protocols = target.token ? [STREAM_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${target.token}`] : [STREAM_SUBPROTOCOL];
    const ws = new (target.WebSocket as unknown as new (url: string, protocols: string[]) => BrowserShellSocket)(url, protocols);
    ws.binaryType = 'arraybuffer';
    let opened = false;
    let closed = false;
    ws.onerror = () => {
      if (!opened) reject(new Error('the shell could not be opened (refused, or the server is unreachable)'));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') handlers.onText(ev.data);
      else if (ev.data instanceof ArrayBuffer) handlers.onBinary(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (!opened) return reject(new Error(`the shell socket closed before it opened (${ev.code})`));
      if (closed) return;
      closed = true;
      handlers.onClose(ev.code, ev.reason);
    };
    ws.onopen = () => {
      opened = true;
      const OPEN = 1;
      resolve({
        sendBinary: (data) => ws.readyState === OPEN && ws.send(data),
        sendText: (text) => ws.readyState === OPEN && ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        // A browser has no terminate: close, and report the drop at once.
        terminate: () => {
          ws.close();
          if (!closed) {
            closed = true;
            handlers.onClose(1006, 'terminated');
          }
        },
      });
    };
  });
}
