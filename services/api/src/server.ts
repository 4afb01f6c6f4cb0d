import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { AppError, badRequest, forbidden, notFound, unauthorized } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import type { ControlPlane } from '@vmo/shared/jobs';
import type { Logger } from '@vmo/shared/logger';
import { SubscriberCloseCode } from '@vmo/shared/protocol';
import { tokenKind } from '@vmo/shared/tokens';
import type { Hono } from 'hono';
import type { TokenStore } from './auth/token-store.ts';
import type { AgentGateway } from './gateway/agent-gateway.ts';
import { rejectUpgrade } from './http/reject-upgrade.ts';
import { chooseProtocol, upgradeToken } from './http/upgrade-auth.ts';
import type { ChannelHub } from './streams/channel-hub.ts';
import { serveJobStream } from './streams/job-stream.ts';

export interface ServerDeps {
  app: Hono<any>;
  cp: ControlPlane;
  tokens: TokenStore;
  gateway: AgentGateway;
  hub: ChannelHub;
  log: Logger;
  maxSubscriberBufferBytes: number;
}

const STREAM_PATH = /^\/v1\/jobs\/([^/]+)\/stream$/;

/** One HTTP server: Hono for REST, `ws` for the job streams and the agent gateway. */
export function createHttpServer(deps: ServerDeps): { server: Server; closeSubscribers(): void } {
  const server = createAdaptorServer({ fetch: deps.app.fetch }) as Server;
  // Subscribers only ever send tiny pings; agents' frames are bounded in the gateway.
  const subscribers = new WebSocketServer({ noServer: true, maxPayload: 4096, handleProtocols: chooseProtocol });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname === '/v1/agent/connect' ? deps.gateway.handleUpgrade(req, socket, head) : upgradeStream(req, socket, head, url);
    route.catch((err: Error) => {
      deps.log.error({ err }, 'upgrade failed');
      rejectUpgrade(socket, new AppError(503, 'unavailable', 'could not open the stream; retry'));
    });
  });

  async function upgradeStream(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const match = STREAM_PATH.exec(url.pathname);
    if (!match) return rejectUpgrade(socket, new AppError(404, 'not_found', `no WebSocket endpoint at ${url.pathname}`));
    const token = upgradeToken(req);
    if (!token) return rejectUpgrade(socket, unauthorized('a bearer token is required (Authorization header or a "bearer.<token>" subprotocol)'));
    if (tokenKind(token) === 'agent') return rejectUpgrade(socket, forbidden('agent tokens are only accepted on the agent endpoint; use a user token'));
    if (!(await deps.tokens.verify(token))) return rejectUpgrade(socket, unauthorized('the token is not valid'));
    const jobId = decodePathSegment(match[1]!);
    const afterParam = url.searchParams.get('after');
    const after = afterParam === null ? -1 : Number(afterParam);
    if (!Number.isInteger(after) || after < -1 || after > 2 ** 31 - 1) return rejectUpgrade(socket, badRequest('validation_failed', 'after: must be a whole number ≥ -1 (the last seq you have)'));
    if (!isId('job', jobId)) return rejectUpgrade(socket, notFound('job', jobId));
    const [row] = await deps.cp.database.sql`select 1 from jobs where id = ${jobId}`;
    if (!row) return rejectUpgrade(socket, notFound('job', jobId));
    subscribers.handleUpgrade(req, socket, head, (ws) => {
      void serveJobStream(ws, jobId, after, { cp: deps.cp, hub: deps.hub, log: deps.log, maxBufferedBytes: deps.maxSubscriberBufferBytes });
    });
  }

  return {
    server,
    closeSubscribers() {
      for (const ws of subscribers.clients) ws.close(SubscriberCloseCode.restart, 'server restarting');
      subscribers.close();
    },
  };
}

/** A malformed escape (`%E0%A4%A`) is a client's mistake, not a server error: keep it raw (then 404). */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
