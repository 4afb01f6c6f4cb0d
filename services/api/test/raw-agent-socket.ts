import { openWebSocket } from '@vmo/testkit';
import type WebSocket from 'ws';

/**
 * An agent's socket driven frame by frame by the test (PROTOCOL.md §1): for the orderings a real
 * agent only produces by chance (a hello that arrives late, a probe answered by hand).
 */
export interface RawAgentSocket {
  ws: WebSocket;
  /** Every JSON frame the server sent, from the first on. */
  frames(): { type: string; [k: string]: unknown }[];
  send(frame: object): void;
  /** The first frame of `type` (and matching `match`), waited for; rejects if the socket closes first. */
  frame(type: string, match?: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}

export async function connectRawAgent(apiUrl: string, token: string): Promise<RawAgentSocket> {
  const opened = await openWebSocket(`${apiUrl}/v1/agent/connect`, { token });
  if (opened.kind !== 'open') throw new Error(`agent upgrade refused: ${opened.status} ${opened.body}`);
  const { ws, texts, closed } = opened;
  let closedWith: { code: number; reason: string } | undefined;
  void closed.then((c) => (closedWith = c));
  const frames = () => texts.map((t) => JSON.parse(t) as { type: string });
  return {
    ws,
    frames,
    send: (frame) => ws.send(JSON.stringify(frame)),
    closed,
    frame: (type, match = () => true, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const look = () => {
          const found = frames().find((f) => f.type === type && match(f));
          if (found) return done(() => resolve(found));
          if (closedWith) done(() => reject(new Error(`the socket closed (${closedWith!.code} ${closedWith!.reason}) before a ${type} frame; frames: ${texts.join(' ')}`)));
        };
        // After the socket's own listeners (openWebSocket's collects `texts`, then `closed` resolves).
        const onEvent = () => setImmediate(look);
        const timer = setTimeout(() => done(() => reject(new Error(`no ${type} frame within ${timeoutMs} ms; frames: ${texts.join(' ')}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          ws.off('message', onEvent);
          ws.off('close', onEvent);
          settle();
        };
        ws.on('message', onEvent);
        ws.on('close', onEvent);
        look();
      }),
  };
}

export const helloFrame = (features: string[] = []) => ({ type: 'hello', v: 1, agentVersion: 'test', hostname: 'raw', os: 'linux', arch: 'x64', features, jobs: [] });
