import { WebSocketServer } from 'ws';
import { emit, exitAfter, loadArgs } from '../load/emit.ts';

/** The agents baseline: a bare `ws` server that accepts connections and holds them, idle. */
const args = loadArgs<{ deadlineMs: number }>();
exitAfter(args.deadlineMs, 'bare-ws-server');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let connections = 0;
wss.on('connection', (ws) => {
  connections++;
  ws.on('message', () => {});
  ws.on('error', () => {});
});
wss.on('listening', () => emit('listening', { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}` }));
process.on('SIGTERM', () => {
  emit('result', { connections });
  process.exit(0);
});
