import { spawn } from 'node:child_process';
import { WebSocketServer, type WebSocket } from 'ws';
import { emit, exitAfter, finish, loadArgs } from '../load/emit.ts';

/**
 * The fan-out baseline: a bare `ws` server that waits for `n` clients, then runs the same
 * generator and sends each chunk read from its stdout pipe to every client as a binary frame,
 * then a text "end" and a close. No storage, no encoding, no backpressure policy.
 */
interface Args {
  n: number;
  argv: string[];
  deadlineMs: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'bare-broadcast');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
const clients = new Set<WebSocket>();
let started = false;
let closed = 0;
let bytes = 0;

wss.on('listening', () => {
  const addr = wss.address() as { port: number };
  emit('listening', { url: `ws://127.0.0.1:${addr.port}` });
});
wss.on('connection', (ws) => {
  clients.add(ws);
  ws.on('close', () => {
    if (++closed === args.n) finish({ bytes });
  });
  if (clients.size === args.n && !started) {
    started = true;
    const child = spawn(args.argv[0]!, args.argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      for (const c of clients) c.send(chunk, { binary: true });
    });
    child.stdout.on('end', () => {
      for (const c of clients) {
        c.send('succeeded');
        c.close(1000);
      }
    });
  }
});
