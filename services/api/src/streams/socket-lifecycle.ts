import type { WebSocket } from 'ws';
import { SubscriberCloseCode, SubscriberToServer } from '@vmo/shared/protocol';
import { wsSubscribers, wsSubscribersCutSlow } from '@vmo/shared/metrics';

/**
 * What every stream (job and run) does with its subscriber's socket: a subscriber may only send
 * `{"type":"ping"}`, anything else closes it with 1008; the socket's own close and error end the
 * stream through the same `close` the stream uses for its own reasons.
 */
export function watchSubscriberSocket(ws: WebSocket, close: (code: number, reason: string) => void): void {
  // Metrics: one subscriber until its socket closes; a close with 4008 (whichever stream sends it) is a cut for slowness.
  wsSubscribers.inc();
  ws.once('close', () => wsSubscribers.dec());
  const closeSocket = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) => {
    if (code === SubscriberCloseCode.tooSlow) wsSubscribersCutSlow.inc();
    closeSocket(code, reason);
  };
  ws.on('message', (data, isBinary) => {
    let ok = false;
    if (!isBinary) {
      try {
        ok = SubscriberToServer.safeParse(JSON.parse(data.toString())).success;
      } catch {
        ok = false;
      }
    }
    if (!ok) close(SubscriberCloseCode.policy, 'unexpected frame; subscribers may only send {"type":"ping"}');
  });
  ws.on('close', () => close(1000, ''));
  ws.on('error', () => close(1011, ''));
}
