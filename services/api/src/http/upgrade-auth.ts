import type { IncomingMessage } from 'node:http';
import { bearerToken } from '@vmo/shared/tokens';

const BEARER_PROTOCOL = 'bearer.';

/**
 * The token of a WebSocket upgrade: the Authorization header, or for browsers (which cannot set
 * headers on a WebSocket) a `bearer.<token>` subprotocol. Never the URL: URLs end up in logs.
 */
export function upgradeToken(req: IncomingMessage): string | undefined {
  const fromHeader = bearerToken(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const bearer = protocols.find((p) => p.startsWith(BEARER_PROTOCOL));
  return bearer ? bearer.slice(BEARER_PROTOCOL.length) : undefined;
}

/** The subprotocol to echo back: a browser fails the handshake if we answer none of those it offered. */
export function chooseProtocol(protocols: Set<string>): string | false {
  for (const p of protocols) if (p.startsWith(BEARER_PROTOCOL) || p === 'vmo.v1') return p;
  return false;
}
