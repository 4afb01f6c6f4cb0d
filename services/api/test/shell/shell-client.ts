import type WebSocket from 'ws';
import { openWebSocket, waitFor } from '@vmo/testkit';

/** A test's shell client (protocol/SHELL.md §S2): every byte it received, the control frames, the close. */
export interface ShellClient {
  ws: WebSocket;
  hello: { session: string; offset: number; reset: boolean };
  /** Bytes received after hello, in order. */
  bytes(): Buffer;
  text(): string;
  /** hello.offset + bytes received: what to reconnect with. */
  offset(): number;
  controls: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  send(input: string): void;
  control(msg: Record<string, unknown>): void;
  waitForText(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: string | null }>;
}

/** `target`: an agent's id or name, or with `kind` 'hosts' an SSH host's ref (GET /v1/hosts/{id}/shell). */
export async function openShell(baseUrl: string, target: string, token: string, query: Record<string, string | number> = {}, kind: 'agents' | 'hosts' = 'agents'): Promise<ShellClient | { refused: number; body: string; retryAfter?: string | undefined }> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const res = await openWebSocket(`${baseUrl}/v1/${kind}/${encodeURIComponent(target)}/shell${qs ? `?${qs}` : ''}`, { token, keepBinary: true });
  if (res.kind === 'refused') return { refused: res.status, body: res.body, retryAfter: res.retryAfter };
  const ws = res.ws;
  // Every binary frame from the first on (openWebSocket's keepBinary): a replay that arrives with the
  // 101 would be lost to a listener added here.
  const chunks = res.binaries;
  // openWebSocket keeps every text frame, from the first on (res.texts).
  const controls = new Proxy([] as Record<string, unknown>[], { get: (_t, key) => Reflect.get(res.texts.map((t) => JSON.parse(t) as Record<string, unknown>), key) });
  const hello = await waitFor('shell hello', () => {
    const found = controls.find((c) => c['type'] === 'hello') as ShellClient['hello'] | undefined;
    if (!found && controls.some((c) => c['type'] === 'error')) throw new Error(JSON.stringify([...controls]));
    return found;
  }, 20_000, 10);
  const bytes = () => Buffer.concat(chunks);
  const client: ShellClient = {
    ws,
    hello,
    bytes,
    text: () => bytes().toString('utf8'),
    offset: () => hello.offset + bytes().length,
    controls,
    closed: res.closed,
    send: (input) => ws.send(Buffer.from(input), { binary: true }),
    control: (msg) => ws.send(JSON.stringify(msg)),
    waitForText: async (pattern, timeoutMs = 20_000) => {
      await waitFor(`shell output ${String(pattern)}`, () => {
        const text = bytes().toString('utf8');
        return (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) || undefined;
      }, timeoutMs, 10).catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(bytes().toString('utf8').slice(-600))}`);
      });
    },
    waitForExit: (timeoutMs = 20_000) =>
      waitFor('shell exit', () => controls.find((c) => c['type'] === 'exit') as { code: number | null; signal: string | null } | undefined, timeoutMs, 10),
  };
  return client;
}

export function opened(c: ShellClient | { refused: number; body: string }): ShellClient {
  if ('refused' in c) throw new Error(`shell refused: ${c.refused} ${c.body}`);
  return c;
}
