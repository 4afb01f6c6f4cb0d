import type { WebSocket, RawData } from 'ws';
import { publishAgentCommand, type BusSubscriber, type ShellEvent, type Unlisten } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { releaseShellSlot, touchShellSlot } from '@vmo/shared/shells';
import {
  SHELL_DEFAULT_RING_BYTES,
  SHELL_HIGH_WATERMARK,
  SHELL_KEEPALIVE_MS,
  SHELL_LOW_WATERMARK,
  SHELL_MAX_INPUT_FRAME,
  ShellClientMessage,
  ShellCloseCode,
  type ShellServerMessage,
} from '@vmo/shared/protocol';

export interface AttachmentSpec {
  agentId: string;
  session: string;
  attach: string;
  /** True for the open that creates the session (SHELL.md §S5 `create`). */
  create: boolean;
  offset: number;
  cols: number;
  rows: number;
  command: string | null;
  graceMs: number;
}

export interface AttachmentDeps {
  cp: ControlPlane;
  bus: BusSubscriber;
  log: Logger;
}

/** `shell_open` is repeated this often until `attached` comes back (a lost command, BUS.md §11). */
const OPEN_RETRY_MS = 2_000;
/** No `attached` within this: the agent is not answering (no `shell_open` for a session is sent later than this after its row). */
export const SHELL_OPEN_TIMEOUT_MS = 15_000;

/**
 * One client socket on a shell session, on the API node the client reached (SHELL.md §S2–§S6).
 * It speaks to the agent through the bus only (the node holding the agent forwards), so it works
 * the same whichever node that is. Every byte goes to the client once, in offset order: `expected`
 * is the next offset the client needs; older bytes (another attachment's replay) are dropped, and
 * a jump past it (a lost bus message) asks the agent for a replay from `expected`.
 */
export class ShellAttachment {
  private expected: number;
  private attached = false;
  private helloSent = false;
  private lastAcked = -1;
  private ackTimer: NodeJS.Timeout | undefined;
  private openTimer: NodeJS.Timeout | undefined;
  private openDeadline: NodeJS.Timeout | undefined;
  private readonly keepalive: NodeJS.Timeout;
  private unlisten: Unlisten | undefined;
  private done = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly spec: AttachmentSpec,
    private readonly deps: AttachmentDeps,
  ) {
    this.expected = spec.offset;
    this.keepalive = setInterval(() => {
      this.ack(true);
      this.touchSlot();
    }, SHELL_KEEPALIVE_MS);
    ws.on('message', (data, isBinary) => this.fromClient(data, isBinary));
    ws.on('close', () => this.finish(true));
    ws.on('error', () => this.finish(true));
  }

  /** Listen, then ask the agent (a listener first: nothing it answers is missed). */
  async start(): Promise<void> {
    this.unlisten = await this.deps.bus.shell(this.spec.session, (msg) => this.onEvent(msg));
    if (this.done) return this.unlisten();
    this.open(this.spec.create);
    this.openDeadline = setTimeout(() => {
      if (!this.attached) this.fail('agent_unreachable', 'the agent did not answer the shell open in time; retry', ShellCloseCode.error);
    }, SHELL_OPEN_TIMEOUT_MS);
  }

  private open(create: boolean): void {
    this.attached = false;
    clearTimeout(this.openTimer);
    const s = this.spec;
    void publishAgentCommand(this.deps.cp, s.agentId, {
      type: 'shell_open', session: s.session, attach: s.attach, create, offset: this.expected, cols: s.cols, rows: s.rows,
      command: s.command, graceMs: s.graceMs, ringBytes: SHELL_DEFAULT_RING_BYTES,
    });
    // A lost command is repeated; the agent creates a session once (a repeat finds it and attaches).
    this.openTimer = setTimeout(() => {
      if (!this.attached && !this.done) this.open(create);
    }, OPEN_RETRY_MS);
  }

  private onEvent(msg: ShellEvent): void {
    if (this.done) return;
    switch (msg.type) {
      case 'attached':
        if (msg.attach !== this.spec.attach) return;
        this.attached = true;
        clearTimeout(this.openTimer);
        clearTimeout(this.openDeadline);
        if (!this.helloSent) {
          this.helloSent = true;
          this.touchSlot();
          this.expected = msg.offset;
          this.sendJson({ type: 'hello', session: this.spec.session, offset: msg.offset, reset: msg.reset });
        } else if (msg.reset) {
          // A resync found the ring already past us: those bytes are gone for this client too.
          return this.fail('output_lost', 'output was lost between the server and the agent and is no longer in its ring; reconnect', ShellCloseCode.error);
        }
        this.ack(false);
        return;
      case 'output': {
        if (!this.attached) return;
        const data = Buffer.from(msg.data, 'base64');
        const end = msg.offset + data.length;
        if (end <= this.expected) return; // already sent (another attachment's replay)
        // LOUD: a gap means the bus lost a chunk: ask for a replay from where this client is, never skip.
        if (msg.offset > this.expected) return this.open(false);
        this.ws.send(data.subarray(this.expected - msg.offset), { binary: true });
        this.expected = end;
        this.scheduleAck();
        return;
      }
      case 'exit':
        void releaseShellSlot(this.deps.cp, this.spec.agentId, this.spec.session).catch(() => {});
        this.sendJson({ type: 'exit', code: msg.code, signal: msg.signal });
        this.finish(false);
        if (this.ws.readyState === this.ws.OPEN) this.ws.close(ShellCloseCode.exited, 'shell exited');
        return;
      case 'error':
        if (msg.attach !== null && msg.attach !== this.spec.attach) return;
        return this.fail(msg.code, msg.message, msg.code === 'session_not_found' ? ShellCloseCode.gone : ShellCloseCode.error);
    }
  }

  private fromClient(data: RawData, isBinary: boolean): void {
    if (this.done) return;
    // LOUD: a socket the server is closing (its access ended: 4401/4404) sends nothing more to the PTY,
    // even frames that arrive before the client's close frame; it detaches at once.
    if (this.ws.readyState !== this.ws.OPEN) return this.finish(true);
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const s = this.spec;
    if (isBinary) {
      if (buf.length === 0) return;
      if (buf.length > SHELL_MAX_INPUT_FRAME) return this.fail('frame_too_large', `input frames carry at most ${SHELL_MAX_INPUT_FRAME} bytes`, ShellCloseCode.policy);
      void publishAgentCommand(this.deps.cp, s.agentId, { type: 'shell_input', session: s.session, data: buf.toString('base64') });
      return;
    }
    let msg: ShellClientMessage;
    try {
      const parsed = ShellClientMessage.safeParse(JSON.parse(buf.toString('utf8')));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return this.fail('bad_frame', `${issue?.path.join('.') || 'frame'}: ${issue?.message ?? 'invalid'}`, ShellCloseCode.policy);
      }
      msg = parsed.data;
    } catch {
      return this.fail('bad_frame', 'a text frame must be JSON', ShellCloseCode.policy);
    }
    switch (msg.type) {
      case 'resize':
        void publishAgentCommand(this.deps.cp, s.agentId, { type: 'shell_resize', session: s.session, cols: msg.cols, rows: msg.rows });
        return;
      case 'ack':
        return; // advisory (SHELL.md §S2): the client brings its offset back when it reconnects
      case 'close':
        this.finish(true);
        if (this.ws.readyState === this.ws.OPEN) this.ws.close(ShellCloseCode.detached, 'detached; the session stays');
        return;
    }
  }

  /** §S6: acknowledge what reached the client's socket, only while it is under the low watermark. */
  private scheduleAck(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.ack(false);
    }, 5);
  }

  private ack(keepalive: boolean): void {
    if (this.done || !this.attached) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered > SHELL_LOW_WATERMARK) {
      // Falling behind (over the high watermark nothing is acknowledged at all): look again soon.
      if (buffered > SHELL_HIGH_WATERMARK || !keepalive) {
        this.ackTimer ??= setTimeout(() => {
          this.ackTimer = undefined;
          this.ack(false);
        }, 25);
      }
      if (!keepalive) return;
    }
    const offset = buffered > SHELL_LOW_WATERMARK ? Math.max(this.lastAcked, this.spec.offset) : this.expected;
    if (offset === this.lastAcked && !keepalive) return;
    this.lastAcked = offset;
    const s = this.spec;
    void publishAgentCommand(this.deps.cp, s.agentId, { type: 'shell_ack', session: s.session, attach: s.attach, offset });
  }

  /** VMO_SHELL_MAX_SESSIONS_PER_TARGET: this session is still alive (shells/live-shell-sessions.ts). */
  private touchSlot(): void {
    void touchShellSlot(this.deps.cp, this.spec.agentId, this.spec.session, this.spec.graceMs).catch(() => {});
  }

  private sendJson(msg: ShellServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private fail(code: string, message: string, closeCode: number): void {
    this.sendJson({ type: 'error', code, message });
    // A new session that never attached has no terminal behind it (spawn_failed, agent_unreachable),
    // and a session_not_found has none any more: its slot is given back now, or a retried failing
    // open would hold one of the target's VMO_SHELL_MAX_SESSIONS_PER_TARGET for the whole grace.
    this.finish(true, (this.spec.create && !this.helloSent) || code === 'session_not_found');
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(closeCode, code.slice(0, 100));
  }

  /** Stop relaying; `detach` tells the agent this attachment is gone (the grace starts when none is left). */
  private finish(detach: boolean, releaseSlot = false): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.keepalive);
    clearTimeout(this.ackTimer);
    clearTimeout(this.openTimer);
    clearTimeout(this.openDeadline);
    this.unlisten?.();
    // The grace starts now: the session keeps its slot (VMO_SHELL_MAX_SESSIONS_PER_TARGET) until it can be reaped.
    if (releaseSlot) void releaseShellSlot(this.deps.cp, this.spec.agentId, this.spec.session).catch(() => {});
    else if (detach) this.touchSlot();
    if (detach) void publishAgentCommand(this.deps.cp, this.spec.agentId, { type: 'shell_detach', session: this.spec.session, attach: this.spec.attach });
  }
}
