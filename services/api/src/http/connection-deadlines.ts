import type { ServerOptions } from 'node:http';

export interface ConnectionDeadlines {
  /** Request line and headers (also of a WebSocket upgrade). */
  headersMs: number;
  /** The whole request, body included. */
  requestMs: number;
  /** A kept-alive connection between requests. */
  keepAliveMs: number;
  /** No byte read or written (a client that stopped reading a response, or never sends). */
  idleMs: number;
  /** A WebSocket upgrade, from its headers to the 101 (authentication included). */
  upgradeMs: number;
}

/**
 * Options for `http.createServer`. Node enforces the header and request deadlines by sweeping its
 * connections every `connectionsCheckingInterval` (30 s by default, which is what let slow
 * sockets live for close to a minute); sweeping at a quarter of the header deadline cuts a slow
 * connection within 1¼ deadlines. Once a socket is upgraded to a WebSocket node no longer tracks
 * it, so none of these applies to an open, authenticated agent or subscriber.
 */
export function deadlineServerOptions(d: ConnectionDeadlines): ServerOptions {
  return {
    headersTimeout: d.headersMs,
    requestTimeout: d.requestMs,
    keepAliveTimeout: d.keepAliveMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(d.headersMs / 4))),
  };
}

/**
 * How long a connection may keep the server waiting before it counts against its address's limit
 * of slow unauthenticated connections: a quarter of the header deadline, at most 1 s. A client
 * that means it has sent its request long before.
 */
export const slowAfterMs = (d: ConnectionDeadlines): number => Math.max(50, Math.min(1000, Math.floor(d.headersMs / 4)));
