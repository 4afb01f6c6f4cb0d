import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import {
  AgentCloseCode,
  checkServerFrame,
  MAX_FRAME_BYTES,
  type AgentHello,
  type AgentToServer,
  type ServerToAgent,
  type ServerWelcome,
} from '@vmo/shared/protocol';
import { Backoff } from './backoff.ts';
import type { Logger } from './logger.ts';
import type { TokenSource } from './token-source.ts';

/**
 * One outbound WebSocket to the control plane, kept up for the agent's whole life (PROTOCOL.md
 * §1, §5, §6). It knows the handshake, validation and liveness; what the frames mean is the
 * runner's business.
 *
 *   connecting ──open──► handshaking ──welcome──► ready
 *       ▲                     │                     │
 *       └──── backoff ◄───────┴──── close/error ────┘        any ──4401/HTTP 401/close()──► stopped
 *
 * After a 4410 (the token was rotated) it stays in backoff, reading its token file every second,
 * until the file holds another token (§8).
 */
export type ConnectionState = 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'stopped';

export interface ConnectionEvents {
  /** Built at each (re)connect: the jobs held right now. */
  hello(): AgentHello;
  welcome(welcome: ServerWelcome): void;
  message(msg: Exclude<ServerToAgent, ServerWelcome>): void;
  /** Left `ready` (the socket is gone or going): stop sending, keep buffering. */
  down(): void;
  /** The server refused this agent for good (revoked or unknown token). */
  fatal(reason: string): void;
}

export interface ConnectionOptions {
  servers: string[];
  /** Read at every attempt: a token installed in its file after a rotation is picked up (§8). */
  token: TokenSource;
  userAgent: string;
  log: Logger;
  events: ConnectionEvents;
  backoff?: Backoff;
}

/** The upgrade must complete within this. */
const UPGRADE_TIMEOUT_MS = 10_000;
/** `welcome` must follow `hello` within this (the server may be waiting on Postgres). */
const WELCOME_TIMEOUT_MS = 15_000;
/** After we send a close frame, how long the server has to answer before we cut the socket. */
const CLOSE_TIMEOUT_MS = 2_000;
/** While waiting for a (new) token in the token file, how often to look. */
const TOKEN_POLL_MS = 1_000;

/** http(s)://host/base → ws(s)://host/base/v1/agent/connect */
export function agentConnectUrl(server: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/agent/connect';
  return url.toString();
}

/** ws's `generateMask`: leave the key it hands over as zeros (see dial()). */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** A close reason may not exceed 123 bytes (RFC 6455); cut on a character boundary. */
function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

interface Session {
  ws: WebSocket;
  url: string;
  /** The token this socket presented. */
  token: string;
  /** Set once we stopped caring about this socket (closed, cut, or replaced). */
  retired: boolean;
  reachedReady: boolean;
  /** Why the server refused us for good, if it did. */
  fatal?: string;
  /** Why the connection failed, for the log line. */
  failure?: string;
  timers: NodeJS.Timeout[];
}

export class AgentConnection {
  private current: Session | undefined;
  private serverIndex = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Set by a 4410: the rotated token, which is not presented again (§8). */
  private rotatedToken: string | undefined;
  /** What the last wait for a token was about, so it is logged once, not every second. */
  private waitingFor: string | undefined;
  /** The token of the last attempt. */
  private lastToken: string | undefined;
  private _state: ConnectionState = 'connecting';
  private readonly backoff: Backoff;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = opts.backoff ?? new Backoff();
  }

  get state(): ConnectionState {
    return this._state;
  }
  get ready(): boolean {
    return this._state === 'ready';
  }

  start(): void {
    this.dial();
  }

  /** Bytes queued on the socket and not yet written (SHELL.md §S6): 0 when not connected. */
  get bufferedAmount(): number {
    return this.current?.ws.bufferedAmount ?? 0;
  }

  /** Sends only on a ready connection; otherwise false (the caller keeps what it must resend). */
  sendJson(msg: AgentToServer): boolean {
    if (!this.ready || !this.current) return false;
    this.current.ws.send(JSON.stringify(msg));
    return true;
  }

  sendOutput(frame: Buffer): boolean {
    if (!this.ready || !this.current) return false;
    this.current.ws.send(frame, { binary: true });
    return true;
  }

  /** Stop for good: close frame with `code`, wait briefly for the server's answer. */
  async close(code: number = AgentCloseCode.normal, reason = 'agent stopping'): Promise<void> {
    if (this._state === 'stopped' && !this.current) return;
    clearTimeout(this.reconnectTimer);
    const session = this.current;
    this.setStopped();
    if (!session) return;
    this.retire(session);
    if (session.ws.readyState === WebSocket.CONNECTING) return session.ws.terminate();
    const gone = new Promise<void>((resolve) => {
      if (session.ws.readyState === WebSocket.CLOSED) return resolve();
      session.ws.once('close', () => resolve());
    });
    session.ws.close(code, reason);
    const cut = setTimeout(() => session.ws.terminate(), CLOSE_TIMEOUT_MS);
    await gone;
    clearTimeout(cut);
  }

  private dial(): void {
    const token = this.usableToken();
    if (token === undefined) return; // waiting for one: the next look is scheduled
    const server = this.opts.servers[this.serverIndex % this.opts.servers.length]!;
    const url = agentConnectUrl(server);
    this._state = 'connecting';
    this.opts.log.debug('connecting', { url });
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}`, 'User-Agent': this.opts.userAgent },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: UPGRADE_TIMEOUT_MS,
      perMessageDeflate: false,
      // An all-zero masking key: ws then neither masks what the agent sends nor unmasks it on the
      // server, a byte-by-byte XOR over every output byte at both ends (the agent's largest CPU cost
      // in the output benchmark, issue 16). The mask (RFC 6455 §10.3) keeps a script that controls
      // the payload but cannot open sockets of its own (a browser page) from speaking to proxies in
      // between; what the agent sends comes from jobs that can already open any socket on its host.
      generateMask: zeroMask,
    });
    const session: Session = { ws, url, token, retired: false, reachedReady: false, timers: [] };
    this.current = session;

    ws.on('unexpected-response', (_req: ClientRequest, res: IncomingMessage) => {
      // §1: HTTP 401 on upgrade means this token will never be accepted: do not retry it. Unless
      // its file now holds another one (installed after a rotation while this attempt was out).
      if (res.statusCode === 401 && !this.tokenReplaced(token)) session.fatal = `the server refused the agent token (HTTP 401 from ${server})`;
      else session.failure = `HTTP ${res.statusCode} on upgrade`;
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => this.onOpen(session));
    ws.on('message', (data, isBinary) => this.onFrame(session, data, isBinary));
    ws.on('error', (err) => (session.failure ??= err.message));
    ws.on('close', (code, reason) => this.onClose(session, code, reason.toString()));
  }

  private onOpen(session: Session): void {
    if (session.retired) return;
    this._state = 'handshaking';
    session.ws.send(JSON.stringify(this.opts.events.hello()));
    session.timers.push(
      setTimeout(() => {
        this.opts.log.warn('no welcome from the server in time; reconnecting', { url: session.url });
        this.cut(session);
      }, WELCOME_TIMEOUT_MS),
    );
  }

  private onFrame(session: Session, data: WebSocket.RawData, isBinary: boolean): void {
    if (session.retired) return;
    if (isBinary) return this.violation(session, 'unexpected binary frame');
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return this.violation(session, 'frame is not JSON');
    }
    // By hand, not zod (check-server-frame.ts: the same verdicts as the ServerToAgent schema, tested).
    const parsed = checkServerFrame(json);
    if (!parsed.ok) {
      const type = (json as { type?: unknown } | null)?.type;
      return this.violation(session, `bad ${typeof type === 'string' ? type : 'frame'}: ${parsed.path || 'frame'}: ${parsed.message}`);
    }
    const msg = parsed.frame;
    if (this._state === 'handshaking') {
      if (msg.type !== 'welcome') return this.violation(session, `expected welcome, got ${msg.type}`);
      return this.onWelcome(session, msg);
    }
    if (msg.type === 'welcome') return this.violation(session, 'second welcome');
    this.opts.events.message(msg);
  }

  private onWelcome(session: Session, welcome: ServerWelcome): void {
    for (const t of session.timers.splice(0)) clearTimeout(t);
    session.reachedReady = true;
    this._state = 'ready';
    this.backoff.reset();
    this.opts.log.info('connected', { url: session.url, agentId: welcome.agentId, heartbeatMs: welcome.heartbeatMs });
    this.watchPongs(session, welcome.heartbeatMs);
    this.opts.events.welcome(welcome);
  }

  /**
   * §5: ping every interval; a ping unanswered for two intervals means the path is dead.
   * The verdict waits for setImmediate, i.e. until pending I/O has been read: after a stall of
   * our own event loop the pong may already be sitting in the socket, and that is not death.
   */
  private watchPongs(session: Session, intervalMs: number): void {
    let unansweredSince: number | undefined;
    session.ws.on('pong', () => (unansweredSince = undefined));
    const timer = setInterval(() => {
      setImmediate(() => {
        if (session.retired) return;
        if (unansweredSince === undefined) {
          unansweredSince = Date.now();
          session.ws.ping();
        } else if (Date.now() - unansweredSince >= 2 * intervalMs) {
          this.opts.log.warn('no pong for two heartbeat intervals; reconnecting', { url: session.url });
          this.cut(session);
        }
      });
    }, intervalMs);
    timer.unref();
    session.timers.push(timer);
  }

  /** A frame broke the protocol: close 1008 and start over (PROTOCOL.md, preamble). */
  private violation(session: Session, why: string): void {
    this.opts.log.warn('protocol violation by the server; reconnecting', { url: session.url, why });
    const ws = session.ws;
    this.retireAndReconnect(session);
    ws.close(AgentCloseCode.policy, closeReason(why));
    setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS).unref();
  }

  /** No close handshake: the peer is not answering anyway. */
  private cut(session: Session): void {
    this.retireAndReconnect(session);
    session.ws.terminate();
  }

  private onClose(session: Session, code: number, reason: string): void {
    if (session.retired) return;
    if (code === AgentCloseCode.revoked) session.fatal = `the server revoked this agent's token (close ${code}${reason ? `: ${reason}` : ''})`;
    if (code === AgentCloseCode.tokenRotated) {
      // §8: the new token is not sent to us; it is installed in our token file. Without one, only a restart can bring it.
      if (this.opts.token.file === undefined) session.fatal = `this agent's token was rotated (close ${code}); restart the agent with the new token`;
      else this.rotatedToken = session.token;
    }
    if (session.fatal) {
      this.retire(session);
      this.setStopped();
      this.opts.log.error('refused by the server; not reconnecting', { reason: session.fatal });
      this.opts.events.fatal(session.fatal);
      return;
    }
    if (code === AgentCloseCode.replaced) {
      // Our own stale socket is retired before this could arrive, so this is another process
      // using the same token. Both will keep taking over from each other: say so plainly.
      this.opts.log.warn('replaced by another connection of this agent: is a second agent running with the same token?', { url: session.url });
    } else if (session.reachedReady) {
      this.opts.log.warn('disconnected', { url: session.url, code, reason });
    } else {
      this.opts.log.warn('could not connect', { url: session.url, error: session.failure ?? `closed ${code} before welcome` });
    }
    this.retireAndReconnect(session);
  }

  /**
   * §8 The token to present now, or undefined (the next look is then scheduled): none after a
   * 4410 until the file holds another token; none while the file holds no token and none was
   * read before.
   */
  private usableToken(): string | undefined {
    const read = this.opts.token.read();
    if ('problem' in read) {
      if (this.lastToken !== undefined && this.lastToken !== this.rotatedToken) {
        // The file went bad (removed, half rewritten) while the token read before still stands: go on with it.
        this.logOnce(`${read.problem}; connecting with the token read before`);
        return this.lastToken;
      }
      return void this.waitForToken(`${read.problem}; waiting for an agent token there`);
    }
    if (read.token === this.rotatedToken) {
      return void this.waitForToken(`this agent's token was rotated; waiting for the new one in ${this.opts.token.file} (POST /v1/agents/{id}/rotate-token answered it); running jobs go on`);
    }
    if (this.rotatedToken !== undefined) this.opts.log.info('found a new agent token; connecting', { file: this.opts.token.file });
    this.rotatedToken = undefined;
    this.waitingFor = undefined;
    this.lastToken = read.token;
    return read.token;
  }

  private logOnce(why: string): void {
    if (this.waitingFor !== why) this.opts.log.warn(why, { file: this.opts.token.file });
    this.waitingFor = why;
  }

  /** The token file now holds a valid token other than `refused`. */
  private tokenReplaced(refused: string): boolean {
    if (this.opts.token.file === undefined) return false;
    const now = this.opts.token.read();
    return 'token' in now && now.token !== refused;
  }

  /** No usable token yet: look again in a second, without giving up and without the backoff growing. */
  private waitForToken(why: string): void {
    this.logOnce(why);
    this._state = 'backoff';
    this.reconnectTimer = setTimeout(() => this.dial(), TOKEN_POLL_MS);
  }

  private retire(session: Session): void {
    if (session.retired) return;
    session.retired = true;
    for (const t of session.timers.splice(0)) clearTimeout(t);
    if (this.current === session) this.current = undefined;
    if (session.reachedReady) this.opts.events.down();
  }

  private retireAndReconnect(session: Session): void {
    this.retire(session);
    if (this._state === 'stopped') return;
    // Stay on a server that worked (behind a balancer it is another node anyway); move on from one that did not.
    if (!session.reachedReady) this.serverIndex++;
    this._state = 'backoff';
    const delay = this.backoff.nextDelayMs();
    this.opts.log.debug('reconnecting after backoff', { delayMs: delay });
    // Not unref'd: while the agent waits to reconnect this timer is what keeps it alive.
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
  }

  private setStopped(): void {
    this._state = 'stopped';
    clearTimeout(this.reconnectTimer);
  }
}
