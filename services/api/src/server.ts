import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { agentConnect } from '@vmo/shared/api';
import { AppError, notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import type { BusSubscriber } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { SubscriberCloseCode } from '@vmo/shared/protocol';
import type { Hono } from 'hono';
import type { AuditWriter } from '@vmo/shared/audit';
import type { SshConfig } from '@vmo/ssh';
import { authenticate } from './auth/authenticate.ts';
import { allows, scopeDenied } from './auth/permissions.ts';
import type { TokenStore } from './auth/token-store.ts';
import type { AgentGateway } from './gateway/agent-gateway.ts';
import { deadlineServerOptions, slowAfterMs, type ConnectionDeadlines } from './http/connection-deadlines.ts';
import { upgradeAccessLog, UPGRADE_UNANSWERED } from './http/access-log.ts';
import { auditRefusedUpgrade, auditUpgradePrincipal } from './http/audit-upgrade.ts';
import { connectionErrorCode, isConnectionError } from './http/on-error.ts';
import type { OriginPolicy } from './http/origin.ts';
import { failedAuthAddress, upgradeTokenToLookUp, type FailedAuthLimiter } from './http/rate-limit-auth.ts';
import type { SubmissionCounter } from './http/rate-limit-submissions.ts';
import { refusalStatusOf, rejectUpgrade } from './http/reject-upgrade.ts';
import { isRefused, markAuthenticated, UnauthenticatedConnections } from './http/unauthenticated-connections.ts';
import { chooseProtocol, STREAM_CREDENTIAL_REQUIRED, upgradeAuthRequest } from './http/upgrade-auth.ts';
import { serveJobStream } from './streams/job-stream.ts';
import { RUN_STREAM_PATH, upgradeRunStream } from './streams/run-stream-upgrade.ts';
import { EventsFeed } from './streams/events-feed.ts';
import { EVENTS_PATH, upgradeEventsStream } from './streams/events-upgrade.ts';
import { StreamAccess } from './streams/stream-access.ts';
import { AGENT_SHELL_PATH, HOST_SHELL_PATH, upgradeAgentShell, upgradeHostShell, upgradeWorkspaceShell, WORKSPACE_SHELL_PATH } from './shells/shell-upgrade.ts';
import { HostShells } from './shells/host-shells.ts';
import { assertJobVisible, parseStreamRequest, STREAM_PATH } from './streams/stream-upgrade.ts';

export interface ServerDeps {
  app: Hono<any>;
  cp: ControlPlane;
  tokens: TokenStore;
  gateway: AgentGateway;
  bus: BusSubscriber;
  log: Logger;
  maxSubscriberBufferBytes: number;
  deadlines: ConnectionDeadlines;
  /** Per client address; 0 = no limit. */
  maxUnauthenticatedConnections: number;
  /** The API's audit writer: refused upgrades (401, 403, a policy's 404) are denied requests too. */
  audit: AuditWriter;
  /** VMO_ALLOWED_ORIGINS, for the job and run streams. */
  origins: OriginPolicy;
  /** VMO_AUTH_FAIL_RATE; absent = off. */
  authFailures?: FailedAuthLimiter | undefined;
  /** VMO_SHELL_GRACE_MS: how long a detached shell session lives (protocol/SHELL.md §S4). */
  shellGraceMs: number;
  /** VMO_SHELL_MAX_SESSIONS_PER_TARGET; 0 = no limit. */
  shellMaxSessionsPerTarget: number;
  /** VMO_SHELL_RECORD_INPUT: host shells held here record what is typed too. */
  recordShellInput?: boolean | undefined;
  /** VMO_SUBMIT_RATE, the instance POST /v1/jobs counts on: a new shell session counts too; absent = off. */
  countSubmission?: SubmissionCounter | undefined;
  /** VMO_SSH_*: the SSH hosts' shells this node holds reach them as the worker's ssh jobs do (shells/host-shells.ts). */
  ssh: SshConfig;
}

/** One HTTP server: Hono for REST, `ws` for the job streams and the agent gateway. */
export function createHttpServer(deps: ServerDeps): { server: Server; closeSubscribers(): Promise<void> } {
  const unauthenticated = new UnauthenticatedConnections(deps.maxUnauthenticatedConnections, slowAfterMs(deps.deadlines), deps.log);
  const serveRequest = getRequestListener(deps.app.fetch);
  const server = createServer(deadlineServerOptions(deps.deadlines), (req, res) => {
    const socket = req.socket;
    if (isRefused(socket)) return void socket.destroy();
    unauthenticated.serving(socket);
    // Answered without authenticating (requireUser marks the ones that did): waiting on the client again.
    res.once('close', () => unauthenticated.waiting(socket));
    void serveRequest(req, res);
  });
  // A socket on which nothing is read or written for idleMs (or, between requests, keepAliveMs) is
  // destroyed: above all a client that stopped reading a response, which would otherwise hold it
  // (and the query feeding it) forever. ws clears the timeout of a socket it takes over.
  server.setTimeout(deps.deadlines.idleMs, (socket: Socket) => {
    deps.log.debug({ address: socket.remoteAddress }, 'closed an idle connection');
    socket.destroy();
  });
  server.on('connection', unauthenticated.admit);
  // Subscribers only ever send tiny pings; agents' frames are bounded in the gateway.
  const subscribers = new WebSocketServer({ noServer: true, maxPayload: 4096, handleProtocols: chooseProtocol });
  // Shell clients send keystrokes and pastes (SHELL.md §S2: ≤ 64 KiB of input per frame).
  const shells = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: chooseProtocol });
  // SSH hosts' shells held by this node (shells/host-shells.ts: why here and not in a worker).
  const hostShells = new HostShells({ cp: deps.cp, bus: deps.bus, log: deps.log, ssh: deps.ssh, recordShellInput: deps.recordShellInput });
  // Open job and run streams are closed when their subscriber's access ends (4401, 4404).
  const access = new StreamAccess({ cp: deps.cp, tokens: deps.tokens, log: deps.log });
  void access.listen(deps.bus);
  // GET /v1/events: what changed, for live pages (BUS.md §10).
  const events = new EventsFeed({ bus: deps.bus, log: deps.log, maxBufferedBytes: deps.maxSubscriberBufferBytes });

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    if (isRefused(socket)) return void socket.destroy();
    // One access line per upgrade (http/access-log.ts): 101, the refusal's status, or 499 if it went unanswered.
    const logAccess = upgradeAccessLog(deps.log, req);
    socket.once('close', () => logAccess(refusalStatusOf(socket) ?? UPGRADE_UNANSWERED));
    unauthenticated.serving(socket);
    // From the end of its headers, an upgrade has this long to authenticate and be answered 101;
    // a refused one this long to go away (it may never close its side). Then it is destroyed.
    const deadline = setTimeout(() => socket.destroy(), deps.deadlines.upgradeMs);
    socket.once('close', () => clearTimeout(deadline));
    let upgraded = false;
    const accepted = () => {
      upgraded = true;
      logAccess(101);
      clearTimeout(deadline);
      markAuthenticated(socket);
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    const isAgent = url.pathname === agentConnect.path;
    // Counted and held up by VMO_AUTH_FAIL_RATE, per address and per credential: an upgrade whose token will be looked up.
    const token = upgradeTokenToLookUp(req, isAgent, deps.tokens.proxy);
    const address = failedAuthAddress(req, deps.tokens.proxy); // the client's: X-Forwarded-For only from a trusted proxy
    const route = (async () => {
      // Before anything is authenticated or read (http/origin.ts). Not on the agent endpoint: it
      // takes only an agent token in the Authorization header, which a web page can neither set
      // on a WebSocket nor have its browser (or an auth proxy) add for it.
      const hostileOrigin = isAgent ? undefined : deps.origins.refusal(req.headers.origin, req.headers.host);
      if (hostileOrigin) throw hostileOrigin;
      const blocked = token ? deps.authFailures?.refusal(address, token) : undefined;
      if (blocked) throw blocked;
      return isAgent
        ? deps.gateway.handleUpgrade(req, socket, head, accepted)
        : RUN_STREAM_PATH.test(url.pathname)
          ? upgradeRunStream(req, socket, head, url, accepted, { cp: deps.cp, tokens: deps.tokens, log: deps.log, subscribers, maxBufferedBytes: deps.maxSubscriberBufferBytes, audit: deps.audit, access })
          : AGENT_SHELL_PATH.test(url.pathname)
            ? upgradeAgentShell(req, socket, head, url, accepted, { cp: deps.cp, tokens: deps.tokens, bus: deps.bus, log: deps.log, audit: deps.audit, subscribers: shells, graceMs: deps.shellGraceMs, maxSessionsPerTarget: deps.shellMaxSessionsPerTarget, access, countSubmission: deps.countSubmission })
          : HOST_SHELL_PATH.test(url.pathname)
            ? upgradeHostShell(req, socket, head, url, accepted, { cp: deps.cp, tokens: deps.tokens, bus: deps.bus, log: deps.log, audit: deps.audit, subscribers: shells, graceMs: deps.shellGraceMs, maxSessionsPerTarget: deps.shellMaxSessionsPerTarget, access, countSubmission: deps.countSubmission, hostShells })
          : WORKSPACE_SHELL_PATH.test(url.pathname)
            ? upgradeWorkspaceShell(req, socket, head, url, accepted, { cp: deps.cp, tokens: deps.tokens, bus: deps.bus, log: deps.log, audit: deps.audit, subscribers: shells, graceMs: deps.shellGraceMs, maxSessionsPerTarget: deps.shellMaxSessionsPerTarget, access, countSubmission: deps.countSubmission })
          : url.pathname === EVENTS_PATH
            ? upgradeEventsStream(req, socket, head, accepted, { tokens: deps.tokens, log: deps.log, audit: deps.audit, subscribers, access, feed: events })
            : upgradeStream(req, socket, head, url, accepted);
    })();
    route
      .catch(async (err: Error) => {
        // A refused token counts against its address and itself (http/rate-limit-auth.ts): past the limit, 429 instead of 401.
        if (err instanceof AppError && err.status === 401 && token && deps.authFailures) err = (await deps.authFailures.failed(address, token)) ?? err;
        if (err instanceof AppError && err.expected) {
          await auditRefusedUpgrade(deps, req, err);
          return rejectUpgrade(socket, err);
        }
        // A store outage is expected operationally (warn, its code only); anything else is a bug.
        if (isConnectionError(err)) deps.log.warn({ cause: connectionErrorCode(err) }, 'upgrade refused: a store is unavailable');
        else deps.log.error({ err }, 'upgrade failed');
        rejectUpgrade(socket, new AppError(503, 'unavailable', 'could not open the stream; retry'));
      })
      // Refused: waiting on the client again, until it goes (or the upgrade deadline).
      .finally(() => {
        if (upgraded) return;
        const refused = refusalStatusOf(socket);
        if (refused !== undefined) logAccess(refused);
        unauthenticated.waiting(socket);
      });
  });

  async function upgradeStream(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, accepted: () => void): Promise<void> {
    const match = STREAM_PATH.exec(url.pathname);
    if (!match) return rejectUpgrade(socket, new AppError(404, 'not_found', `no WebSocket endpoint at ${url.pathname}`));
    // The same check as REST (requireUser): a token, or the user a trusted auth proxy names; a
    // refusal is an expected AppError, answered by the catch above.
    const generation = access.generation;
    const auth = upgradeAuthRequest(req);
    const principal = await auditUpgradePrincipal(deps, req, await authenticate(deps.tokens, auth, STREAM_CREDENTIAL_REQUIRED));
    if (!allows(principal, 'jobs:read')) throw scopeDenied(principal, 'jobs:read');
    const { jobId, after, attempt } = parseStreamRequest(match[1]!, url);
    if (!isId('job', jobId)) return rejectUpgrade(socket, notFound('job', jobId));
    await assertJobVisible(deps.cp, principal, jobId); // 404 for a job the caller may not see, as for none
    subscribers.handleUpgrade(req, socket, head, (ws) => {
      accepted();
      access.watch(ws, { auth, principal, resource: { kind: 'job', id: jobId }, generation });
      void serveJobStream(ws, jobId, { after, attempt }, { cp: deps.cp, bus: deps.bus, log: deps.log, maxBufferedBytes: deps.maxSubscriberBufferBytes });
    });
  }

  return {
    server,
    /** Resolves once the host shells held here are ended and recorded (before the stores close). */
    closeSubscribers() {
      const hostShellsClosed = hostShells.close();
      access.stop();
      events.stop();
      for (const ws of subscribers.clients) ws.close(SubscriberCloseCode.restart, 'server restarting');
      subscribers.close();
      for (const ws of shells.clients) ws.close(1012, 'server restarting; reconnect with session and offset');
      shells.close();
      return hostShellsClosed;
    },
  };
}
