import { existsSync, readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * A light agent simulator speaking the real protocol (PROTOCOL.md §1 and §5): per token, one
 * WebSocket to /v1/agent/connect, `hello`, wait for `welcome`, then a `heartbeat` and a
 * WebSocket ping every `welcome.heartbeatMs` (first one at a random offset, so they spread).
 * It runs no jobs. In `bare` mode it only opens plain connections to a bare `ws` server.
 * Emits `online` once every agent is welcomed (or connected), then holds until SIGTERM.
 * Options for the many-process runs (agents-100k): `localAddresses` binds the connections to these
 * source addresses in turn (127.x.y.z: each address has its own ~28k ephemeral ports), `goFile`
 * holds the connects until that file exists (emitting `ready` first), and `progress` every second.
 */
interface Args {
  mode: 'agents' | 'bare';
  url: string;
  tokensFile?: string;
  n: number;
  inFlight: number;
  deadlineMs: number;
  localAddresses?: string[];
  goFile?: string;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'agent-sim');

const sockets: WebSocket[] = [];
let heartbeats = 0;
let closedEarly = 0;
let stopping = false;
let welcomed = 0;

function connect(token: string | undefined, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(args.url, {
      headers: token ? { authorization: `Bearer ${token}`, 'user-agent': 'vmo-agent-sim/1' } : {},
      perMessageDeflate: false,
      ...(args.localAddresses?.length ? { localAddress: args.localAddresses[i % args.localAddresses.length] } : {}),
    });
    sockets.push(ws);
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) return reject(err);
      welcomed++;
      resolve();
    };
    ws.on('unexpected-response', (_req, res) => settle(new Error(`agent ${i}: upgrade refused with HTTP ${res.statusCode}`)));
    ws.on('error', (err) => settle(err));
    ws.on('close', (code) => {
      if (!stopping) closedEarly++;
      settle(new Error(`agent ${i}: closed ${code} before welcome`));
    });
    ws.on('open', () => {
      if (args.mode === 'bare') return settle();
      ws.send(JSON.stringify({ type: 'hello', v: 1, agentVersion: 'sim-1', hostname: `sim-${i}`, os: 'linux', arch: 'x64', jobs: [] }));
    });
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString()) as { type: string; heartbeatMs?: number };
      if (msg.type !== 'welcome') return;
      const every = msg.heartbeatMs!;
      setTimeout(() => {
        const beat = () => {
          if (ws.readyState !== ws.OPEN) return;
          ws.send('{"type":"heartbeat","v":1,"running":0}');
          ws.ping();
          heartbeats++;
        };
        beat();
        setInterval(beat, every).unref();
      }, Math.random() * every).unref();
      settle();
    });
  });
}

async function main(): Promise<void> {
  const tokens = args.tokensFile ? readFileSync(args.tokensFile, 'utf8').split('\n').filter(Boolean) : [];
  if (args.goFile) {
    emit('ready');
    while (!existsSync(args.goFile)) await new Promise((r) => setTimeout(r, 10));
  }
  const t0 = preciseNow();
  let next = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const lane = async () => {
    while (next < args.n) {
      const i = next++;
      try {
        await connect(tokens[i], i);
      } catch (err) {
        failures++;
        firstFailure ??= (err as Error).message;
      }
    }
  };
  const progress = setInterval(() => emit('progress', { welcomed, failures }), 1000);
  await Promise.all(Array.from({ length: args.inFlight }, lane));
  clearInterval(progress);
  // `at`: when the last one got in, on the clock every process of this machine shares (stats.ts).
  const at = preciseNow();
  emit('online', { ms: at - t0, at, failures, firstFailure });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const ws of sockets) ws.terminate();
    finish({ heartbeats, closedEarly, failures });
  });
  setInterval(() => {}, 60_000);
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
