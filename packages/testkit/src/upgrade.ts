import WebSocket from 'ws';
import { errorCodeOfText, newRequestId, recordRequest, REQUEST_ID_HEADER } from './request-ledger.ts';

export type UpgradeResult =
  | {
      kind: 'open';
      ws: WebSocket;
      protocol: string;
      closed: Promise<{ code: number; reason: string }>;
      /** Every text message from the first on: one the server sent with the upgrade's answer arrives before a listener added after `open` could see it. */
      texts: string[];
      /** With `keepBinary`: every binary message from the first on, for the same reason (empty otherwise). */
      binaries: Buffer[];
    }
  | { kind: 'refused'; status: number; body: string; /** The refusal's Retry-After header, if any. */ retryAfter?: string };

/**
 * Open a WebSocket and report how the server answered the upgrade: the socket (with a promise of
 * its close code) or the HTTP status and body it was refused with. For auth and error-path tests
 * where `followJob` would only reject.
 *
 * Sends an X-Request-Id (unless the test set one) and records a refusal with it
 * (request-ledger.ts): a denied upgrade must have its audit row, checked at the TestSystem's stop().
 */
export function openWebSocket(
  url: string,
  opts: { token?: string; protocols?: string[]; headers?: Record<string, string>; /** Connect from this loopback address (127.x.y.z). */ localAddress?: string; /** Keep binary messages too (`binaries`): off by default, a big stream would be held in memory. */ keepBinary?: boolean } = {},
): Promise<UpgradeResult> {
  const stack = new Error().stack;
  const ownId = Object.keys(opts.headers ?? {}).some((h) => h.toLowerCase() === REQUEST_ID_HEADER.toLowerCase());
  const headers = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(ownId ? {} : { [REQUEST_ID_HEADER]: newRequestId() }), ...opts.headers };
  const requestId = Object.entries(headers).find(([h]) => h.toLowerCase() === REQUEST_ID_HEADER.toLowerCase())![1];
  const ws = new WebSocket(url.replace(/^http/, 'ws'), opts.protocols ?? [], { headers, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const texts: string[] = [];
  const binaries: Buffer[] = [];
  // LOUD: from the first frame on. Frames that reach the client in the same read as the 101 are
  // emitted on a nextTick, before any promise continuation of the caller runs: a listener added
  // after `await openWebSocket(…)` never sees them (a loaded machine makes that common).
  ws.on('message', (raw, isBinary) => {
    if (!isBinary) texts.push(raw.toString());
    else if (opts.keepBinary) binaries.push(Buffer.from(raw as Buffer));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ kind: 'open', ws, protocol: ws.protocol, closed, texts, binaries }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      let answered = false;
      const done = () => {
        if (answered) return;
        answered = true;
        const target = new URL(url.replace(/^ws/, 'http'));
        const errorCode = errorCodeOfText(body);
        recordRequest({ origin: target.origin, method: 'GET', path: target.pathname, status: res.statusCode ?? 0, requestId, kind: 'upgrade', ...(errorCode === undefined ? {} : { errorCode }) }, stack);
        const retryAfter = res.headers['retry-after'];
        resolve({ kind: 'refused', status: res.statusCode ?? 0, body, ...(retryAfter === undefined ? {} : { retryAfter }) });
        ws.terminate();
      };
      res.on('end', done);
      res.on('error', done);
    });
    // Kept for the socket's whole life: after a refusal or a close, ws may still report errors.
    ws.on('error', reject);
  });
}
