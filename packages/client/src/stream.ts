import { BEARER_SUBPROTOCOL_PREFIX, STREAM_SUBPROTOCOL, StreamMessage, streamJob } from '@vmo/shared/api';
import { apiError } from './errors.ts';
import { routeUrl } from './http.ts';

/** What the stream needs of a socket; in Node it is a `ws` WebSocket, in a browser the browser's. */
export interface StreamSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A browser-style WebSocket constructor (`globalThis.WebSocket`): it cannot set headers, so the token goes in a subprotocol. */
export interface BrowserWebSocketClass {
  new (url: string, protocols?: string | string[]): StreamSocket & {
    onopen: ((ev: unknown) => void) | null;
    onmessage: ((ev: { data: unknown }) => void) | null;
    onerror: ((ev: unknown) => void) | null;
    onclose: ((ev: { code: number; reason: string }) => void) | null;
  };
}

export interface StreamTarget {
  baseUrl: string;
  token?: string | undefined;
  /** Given (a browser's WebSocket): auth with the subprotocols `vmo.v1` + `bearer.<token>`. Absent: the `ws` package with the Authorization header (Node). */
  WebSocket?: BrowserWebSocketClass | undefined;
}

/** What one connection to any of the API's streams takes: `M` is its frames' type. */
export interface StreamSocketOptions<M> {
  /** Every frame, in order, with the socket (to close it, or send a ping). */
  onMessage(msg: M, socket: StreamSocket): void;
  signal?: AbortSignal | undefined;
}

export interface StreamOnceOptions extends StreamSocketOptions<StreamMessage> {
  after?: number | undefined;
  /** The attempt of a retried job to start at (absent: the latest); `after` is a seq of it. */
  attempt?: number | undefined;
}

export interface StreamClose {
  code: number;
  reason: string;
}

/**
 * One connection to `GET /v1/jobs/{id}/stream`: resolves with the close code once the server (or
 * `onMessage`) closes it. Rejects with VmoApiError when the upgrade is refused (status and error
 * body; Node only: a browser does not show them, so there it is a plain Error), or with the
 * socket's error. For reconnecting as the README says, use follow().
 */
export function streamOnce(target: StreamTarget, jobId: string, opts: StreamOnceOptions): Promise<StreamClose> {
  const url = routeUrl(target.baseUrl.replace(/^http/, 'ws'), streamJob, { id: jobId }, { after: opts.after, attempt: opts.attempt });
  return openStream(target, url, opts);
}

/** One connection to the stream at `url` (ws: or wss:), as streamOnce: for the run stream (follow-run.ts). */
export function openStream<M>(target: StreamTarget, url: string, opts: StreamSocketOptions<M>): Promise<StreamClose> {
  return target.WebSocket ? browserStream(target.WebSocket, url, target.token, opts) : nodeStream(url, target.token, opts);
}

function decode<M>(text: string): M {
  return JSON.parse(text) as M;
}

async function nodeStream<M>(url: string, token: string | undefined, opts: StreamSocketOptions<M>): Promise<StreamClose> {
  const { WebSocket } = await import('ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [STREAM_SUBPROTOCOL], { headers: token ? { authorization: `Bearer ${token}` } : {} });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      reject(err);
    };
    const abort = () => {
      ws.terminate();
      fail(opts.signal?.reason instanceof Error ? opts.signal.reason : new DOMException('follow aborted', 'AbortError'));
    };
    if (opts.signal?.aborted) return abort();
    opts.signal?.addEventListener('abort', abort, { once: true });
    ws.on('message', (data, isBinary) => {
      if (settled || isBinary) return;
      try {
        opts.onMessage(decode<M>(data.toString()), ws);
      } catch (err) {
        ws.terminate();
        fail(err as Error);
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 64 * 1024) text += d; // an error body is small; never hold more
      });
      const done = () => {
        fail(apiError(res.statusCode ?? 0, text));
        ws.terminate();
      };
      res.on('end', done);
      res.on('error', done);
    });
    ws.on('error', fail);
    ws.on('close', (code, reason) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      resolve({ code, reason: reason.toString() });
    });
  });
}

function browserStream<M>(WebSocketClass: BrowserWebSocketClass, url: string, token: string | undefined, opts: StreamSocketOptions<M>): Promise<StreamClose> {
  return new Promise((resolve, reject) => {
    const protocols = token ? [STREAM_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`] : [STREAM_SUBPROTOCOL];
    const ws = new WebSocketClass(url, protocols);
    let settled = false;
    let opened = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      fn();
    };
    const abort = () => {
      ws.close();
      settle(() => reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new DOMException('follow aborted', 'AbortError')));
    };
    if (opts.signal?.aborted) return abort();
    opts.signal?.addEventListener('abort', abort, { once: true });
    ws.onopen = () => (opened = true);
    ws.onmessage = (ev) => {
      if (settled || typeof ev.data !== 'string') return;
      try {
        opts.onMessage(decode<M>(ev.data), ws);
      } catch (err) {
        ws.close();
        settle(() => reject(err as Error));
      }
    };
    // A browser reports a refused upgrade as an error and a close 1006, without the status.
    ws.onerror = () => {
      if (!opened) settle(() => reject(new Error('the stream could not be opened (refused, or the server is unreachable)')));
    };
    ws.onclose = (ev) => settle(() => resolve({ code: ev.code, reason: ev.reason }));
  });
}
