import type { WebSocket } from 'ws';
import { SubscriberCloseCode, SubscriberToServer } from '@vmo/shared/protocol';
import { wsSubscribers, wsSubscribersCutSlow } from '@vmo/shared/metrics';

/** A stream is closing its subscriber with 4008 (SubscriberCloseCode.tooSlow): call it where the 4008 is sent, once per cut. */
export function countCutTooSlow(): void {
  wsSubscribersCutSlow.inc();
}

/**
 * What every stream (job and run) does with its subscriber's socket: a subscriber may only send
 * `{"type":"ping"}`, anything else closes it with 1008; the socket's own close and error end the
 * stream through the same `close` the stream uses for its own reasons.
 */
export function watchSubscriberSocket(ws: WebSocket, close: (code: number, reason: string) => void): void {
  // Metrics: one subscriber until its socket closes (its cuts for slowness: countCutTooSlow).
  wsSubscribers.inc();
  ws.once('close', () => wsSubscribers.dec());
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
