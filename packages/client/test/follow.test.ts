/**
 * follow() against a scripted stream server on a real socket: each upgrade gets the next scripted
 * behaviour (refuse with a status, or send frames and close with a code), so the resume rules of
 * the README are checked one by one: 1012 and 4008 resume with ?after=<last seq>, a 503 upgrade
 * is retried with a backoff, no chunk is delivered twice or skipped, and what cannot be fixed by
 * retrying is thrown.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { VmoApiError, VmoClient, VmoStreamClosedError, type OutputChunk, type Reconnect } from '../src/index.ts';

type Step =
  | { refuse: number; code: string }
  | { frames: object[]; close: number }
  /** Send the frames, then end the TCP connection without a close frame (a proxy or node that went away: the client sees 1006). */
  | { frames: object[]; terminate: true };

interface Seen {
  url: string;
  authorization: string | undefined;
  protocols: string | undefined;
}

const output = (seq: number, text: string, stream = 'stdout') => ({ type: 'output', seq, stream, data: Buffer.from(text).toString('base64') });
const status = (s = 'running') => ({ type: 'status', status: s });
const end = (s = 'succeeded', exitCode: number | null = 0) => ({ type: 'end', status: s, exitCode, signal: null });

/** A stream server that plays `steps` in order, one per upgrade, and records what each upgrade asked for. */
async function scriptedServer(steps: Step[]): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('vmo.v1') ? 'vmo.v1' : false) });
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push({ url: req.url!, authorization: req.headers.authorization, protocols: req.headers['sec-websocket-protocol'] as string | undefined });
    const step = steps.shift();
    if (!step) return socket.destroy();
    if ('refuse' in step) {
      const body = JSON.stringify({ error: { code: step.code, message: `refused: ${step.code}` } });
      return void socket.end(`HTTP/1.1 ${step.refuse} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if ('terminate' in step) {
        // Once the frames are written: FIN without a WebSocket close frame.
        step.frames.forEach((f, i) => ws.send(JSON.stringify(f), i === step.frames.length - 1 ? () => socket.destroy() : undefined));
        return;
      }
      for (const f of step.frames) ws.send(JSON.stringify(f));
      ws.close(step.close, 'scripted');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => {
      wss.close();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

let server: Awaited<ReturnType<typeof scriptedServer>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function followScript(steps: Step[], opts: { after?: number; WebSocket?: typeof WebSocket } = {}) {
  server = await scriptedServer(steps);
  const client = new VmoClient({ baseUrl: server.url, token: 'vmo_adm_scripted', ...(opts.WebSocket ? { WebSocket: opts.WebSocket as never } : {}) });
  const chunks: OutputChunk[] = [];
  const reconnects: Reconnect[] = [];
  const result = client.follow('job_0123456789abcdefghij', {
    ...(opts.after === undefined ? {} : { after: opts.after }),
    onOutput: (c) => chunks.push(c),
    onReconnect: (r) => reconnects.push(r),
    backoff: { initialMs: 20, maxMs: 100 },
    retryForMs: 5_000,
  });
  return { result, chunks, reconnects, seen: server.seen };
}

const text = (chunks: OutputChunk[]) => Buffer.concat(chunks.map((c) => c.data)).toString();
const afters = (seen: Seen[]) => seen.map((s) => new URL(s.url, 'http://x').searchParams.get('after'));

describe('follow() resumes as the README says', () => {
  it('resumes after 1012 and 4008 with ?after=<last seq>, delivering each chunk once, in order', async () => {
    const f = await followScript([
      { frames: [status(), output(0, 'a'), output(1, 'b')], close: 1012 },
      // The server resends seq 1 (as if it had not seen the ack): delivered once only.
      { frames: [status(), output(1, 'b'), output(2, 'c')], close: 4008 },
      { frames: [status(), output(3, 'd'), end()], close: 1000 },
    ]);
    await expect(f.result).resolves.toEqual({ type: 'end', status: 'succeeded', exitCode: 0, signal: null });
    expect(text(f.chunks)).toBe('abcd');
    expect(f.chunks.map((c) => c.seq)).toEqual([0, 1, 2, 3]);
    expect(afters(f.seen)).toEqual(['-1', '1', '2']);
    expect(f.reconnects.map((r) => [r.closeCode, r.after])).toEqual([[1012, 1], [4008, 2]]);
  });

  it.each([
    ['in Node', undefined],
    ['with a browser WebSocket', WebSocket],
  ])('resumes after a broken connection (no close frame) %s, from the last chunk it has, none lost or repeated', async (_, WebSocketClass) => {
    const f = await followScript([
      { frames: [status(), output(0, 'a'), output(1, 'b')], terminate: true },
      { frames: [status(), output(1, 'b'), output(2, 'c')], terminate: true },
      { frames: [status(), output(3, 'd'), end()], close: 1000 },
    ], WebSocketClass ? { WebSocket: WebSocketClass } : {});
    await f.result;
    expect(text(f.chunks)).toBe('abcd');
    expect(afters(f.seen)).toEqual(['-1', '1', '2']);
    expect(f.reconnects.map((r) => r.closeCode)).toEqual([1006, 1006]);
  });

  it('retries a 503 upgrade with a growing delay, then resumes where it was', async () => {
    const f = await followScript([
      { frames: [status(), output(0, 'x')], close: 1012 },
      { refuse: 503, code: 'unavailable' },
      { refuse: 503, code: 'unavailable' },
      { frames: [status(), output(1, 'y'), end()], close: 1000 },
    ]);
    await f.result;
    expect(text(f.chunks)).toBe('xy');
    expect(afters(f.seen)).toEqual(['-1', '0', '0', '0']);
    expect(f.reconnects.map((r) => r.status ?? r.closeCode)).toEqual([1012, 503, 503]);
    // Backoff: the second refusal waits longer than the first reconnect's upper bound allows for the first.
    const [first, , third] = f.reconnects.map((r) => r.delayMs);
    expect(first).toBeLessThanOrEqual(20);
    expect(third).toBeGreaterThanOrEqual(40);
  });

  it('never skips: a gap in seq makes it reconnect from the last chunk it has', async () => {
    const f = await followScript([
      { frames: [status(), output(0, 'a'), output(2, 'c')], close: 1000 },
      { frames: [status(), output(1, 'b'), output(2, 'c'), end()], close: 1000 },
    ]);
    await f.result;
    expect(text(f.chunks)).toBe('abc');
    expect(afters(f.seen)).toEqual(['-1', '0']);
  });

  it('starts after the given seq', async () => {
    const f = await followScript([{ frames: [status(), output(5, 'f'), end()], close: 1000 }], { after: 4 });
    await f.result;
    expect(afters(f.seen)).toEqual(['4']);
    expect(text(f.chunks)).toBe('f');
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
  ])('throws a %i refusal at once, as a VmoApiError with its code', async (statusCode, code) => {
    const f = await followScript([{ refuse: statusCode, code }]);
    const err = await f.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmoApiError);
    expect(err).toMatchObject({ status: statusCode, code, message: `refused: ${code}` });
    expect(f.seen).toHaveLength(1);
  });

  it('throws a close that is not a resume (4401, 4404, 1008) as a VmoStreamClosedError', async () => {
    for (const close of [4401, 4404, 1008]) {
      const f = await followScript([{ frames: [status()], close }]);
      await expect(f.result).rejects.toEqual(expect.objectContaining({ name: 'VmoStreamClosedError', closeCode: close }));
      await expect(f.result).rejects.toBeInstanceOf(VmoStreamClosedError);
      await server!.close();
      server = undefined;
    }
  });

  it('authenticates with the Authorization header in Node, with the vmo.v1 + bearer.<token> subprotocols given a browser WebSocket', async () => {
    const node = await followScript([{ frames: [status(), end()], close: 1000 }]);
    await node.result;
    expect(node.seen[0]).toMatchObject({ authorization: 'Bearer vmo_adm_scripted', protocols: 'vmo.v1' });
    await server!.close();

    // `ws` has the browser's interface (onopen, onmessage, …) and cannot be given headers this way.
    const browser = await followScript([{ frames: [status(), output(0, 'z'), end()], close: 1000 }], { WebSocket });
    await browser.result;
    expect(browser.seen[0]!.authorization).toBeUndefined();
    expect(browser.seen[0]!.protocols?.split(',').map((p) => p.trim())).toEqual(['vmo.v1', 'bearer.vmo_adm_scripted']);
    expect(text(browser.chunks)).toBe('z');
  });

  it("stops when aborted, with the signal's reason", async () => {
    server = await scriptedServer([{ refuse: 503, code: 'unavailable' }, { refuse: 503, code: 'unavailable' }, { refuse: 503, code: 'unavailable' }]);
    const controller = new AbortController();
    const client = new VmoClient({ baseUrl: server.url, token: 't' });
    const result = client.follow('job_0123456789abcdefghij', { signal: controller.signal, backoff: { initialMs: 1000 }, onReconnect: () => controller.abort(new Error('enough')) });
    await expect(result).rejects.toThrow('enough');
  });
});
