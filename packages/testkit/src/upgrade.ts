import WebSocket from 'ws';

export type UpgradeResult =
  | {
      kind: 'open';
      ws: WebSocket;
      protocol: string;
      closed: Promise<{ code: number; reason: string }>;
      /** Every text message from the first on: one the server sent with the upgrade's answer arrives before a listener added after `open` could see it. */
      texts: string[];
    }
  | { kind: 'refused'; status: number; body: string };

/**
 * Open a WebSocket and report how the server answered the upgrade: the socket (with a promise of
 * its close code) or the HTTP status and body it was refused with. For auth and error-path tests
 * where `followJob` would only reject.
 */
export function openWebSocket(
  url: string,
  opts: { token?: string; protocols?: string[]; headers?: Record<string, string>; /** Connect from this loopback address (127.x.y.z). */ localAddress?: string } = {},
): Promise<UpgradeResult> {
  const headers = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
  const ws = new WebSocket(url.replace(/^http/, 'ws'), opts.protocols ?? [], { headers, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const texts: string[] = [];
  ws.on('message', (raw, isBinary) => {
    if (!isBinary) texts.push(raw.toString());
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ kind: 'open', ws, protocol: ws.protocol, closed, texts }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      const done = () => {
        resolve({ kind: 'refused', status: res.statusCode ?? 0, body });
        ws.terminate();
      };
      res.on('end', done);
      res.on('error', done);
    });
    // Kept for the socket's whole life: after a refusal or a close, ws may still report errors.
    ws.on('error', reject);
  });
}
