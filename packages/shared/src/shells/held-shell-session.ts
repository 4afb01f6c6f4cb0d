import {
  MAX_CHUNK_BYTES,
  SHELL_ATTACH_TIMEOUT_MS,
  SHELL_HIGH_WATERMARK,
  SHELL_LOW_WATERMARK,
  SHELL_WINDOW_BYTES,
  encodeShellOutputFrame,
  type AgentToServer,
} from '../protocol/index.ts';
import { OutputRing } from './output-ring.ts';

/**
 * What a session needs from whoever relays it to the API (SHELL.md §S5): the agent's socket, or,
 * for an SSH host, the API node's relay (services/api/src/shells/host-shells.ts).
 */
export interface ShellLink {
  /** False when not connected: the bytes stay in the ring (a reattach replays them). */
  sendOutput(frame: Buffer): boolean;
  sendJson(msg: AgentToServer): boolean;
  /** The relay socket's bufferedAmount (§S6). */
  readonly bufferedAmount: number;
}

/**
 * The terminal a session owns: node-pty on an agent, ssh2's `shell()` (a pty request) for an SSH
 * host. Output is bytes (offsets count bytes); `onExit` is called once, after the last `onData`.
 */
export interface ShellProcess {
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  /** Stop reading output (the program blocks on write), and start again (§S6). */
  pause(): void;
  resume(): void;
  onData(listener: (data: Buffer) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** §S4 reap: kill everything the session started; resolves once it is gone (or given up on). */
  reap(): Promise<void>;
}

export interface HeldShellSpec {
  id: string;
  graceMs: number;
  ringBytes: number;
}

/** The logger both holders have: the agent's (msg, fields) shape. */
export interface ShellLog {
  info(msg: string, fields?: Record<string, unknown>): void;
}

interface Attachment {
  /** Highest offset its API node has acknowledged (§S6). */
  acked: number;
  lastHeardAt: number;
}

/** After the shell exits, how long a reattach still gets the end of its output and the exit. */
const EXITED_KEPT_MS = 60_000;

/**
 * One shell session and its ring (SHELL.md §S3–§S6), whoever owns the terminal (the agent's
 * node-pty, or the API node's ssh2 channel for a host). Output is numbered by byte offset, kept in
 * the ring, and sent as it comes while connected, in offset order. The terminal is paused while
 * any attachment is more than a window behind, or the link is over its high watermark.
 */
export class HeldShellSession {
  private readonly ring: OutputRing;
  private readonly attachments = new Map<string, Attachment>();
  private paused = false;
  private flowTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private exit: { code: number | null; signal: string | null } | undefined;
  private killing: Promise<void> | undefined;
  /** The first offset a send failed for (not connected): resent on the next welcome (resume). */
  private unsentFrom: number | undefined;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    readonly spec: HeldShellSpec,
    private readonly proc: ShellProcess,
    private readonly link: ShellLink,
    private readonly log: ShellLog,
    private readonly onGone: (id: string) => void,
  ) {
    this.ring = new OutputRing(spec.ringBytes);
    proc.onData((data) => this.onData(data));
    proc.onExit((code, signal) => this.onExit(code, signal));
    // §S4: an attachment whose API node has gone silent (it died) stops holding the session.
    this.sweepTimer = setInterval(() => this.dropSilent(), 5_000);
    this.sweepTimer.unref();
    this.startGrace(); // until the first attach arrives (it is on its way)
  }

  get head(): number {
    return this.ring.head;
  }

  /** Its terminal's program has ended (the session stays a while for a late reattach). */
  get exited(): boolean {
    return this.exit !== undefined;
  }

  /** §S3 attach at `offset`: replay what the ring holds from there, or from its start with `reset`. */
  attach(attach: string, offset: number): void {
    if (offset > this.ring.head) {
      this.link.sendJson({ type: 'shell_error', v: 1, session: this.spec.id, attach, code: 'bad_offset', message: `offset ${offset} is past the output's end (${this.ring.head})` });
      return;
    }
    const reset = offset < this.ring.start;
    const from = reset ? this.ring.start : offset;
    this.attachments.set(attach, { acked: from, lastHeardAt: Date.now() });
    this.stopGrace();
    this.link.sendJson({ type: 'shell_attached', v: 1, session: this.spec.id, attach, offset: from, reset });
    for (const piece of this.ring.slice(from, MAX_CHUNK_BYTES)) this.link.sendOutput(encodeShellOutputFrame({ session: this.spec.id, offset: piece.offset, data: piece.data }));
    if (this.exit) this.sendExit();
    this.checkFlow();
  }

  /**
   * The link is connected again (welcome): LOUD: what it could not send while disconnected is
   * sent now, from the oldest offset an attachment has not acknowledged (or the first unsent one),
   * then the exit if the shell ended meanwhile; otherwise a client would wait for them forever
   * and the session's row would never end. Repeats are harmless (offsets, endShellSession once).
   */
  resume(): void {
    const acked = [...this.attachments.values()].map((a) => a.acked);
    const from = Math.max(this.ring.start, Math.min(this.unsentFrom ?? this.ring.head, ...acked));
    this.unsentFrom = undefined;
    for (const piece of this.ring.slice(from, MAX_CHUNK_BYTES)) {
      if (!this.link.sendOutput(encodeShellOutputFrame({ session: this.spec.id, offset: piece.offset, data: piece.data }))) this.unsentFrom ??= piece.offset;
    }
    if (this.exit) this.sendExit();
  }

  detach(attach: string): void {
    if (!this.attachments.delete(attach)) return;
    if (this.attachments.size === 0) this.startGrace();
    this.checkFlow();
  }

  ack(attach: string, offset: number): void {
    const a = this.attachments.get(attach);
    if (!a) return;
    a.acked = Math.max(a.acked, Math.min(offset, this.ring.head));
    a.lastHeardAt = Date.now();
    this.checkFlow();
  }

  input(data: Buffer): void {
    if (!this.exit) this.proc.write(data);
  }

  resize(cols: number, rows: number): void {
    if (!this.exit) this.proc.resize(cols, rows);
  }

  /** Kill everything the session started (its holder stops, or the grace is over); resolves when it is gone. */
  kill(): Promise<void> {
    if (this.killing) return this.killing;
    if (this.exit) return Promise.resolve();
    this.killing = this.proc.reap();
    return this.killing;
  }

  private onData(data: Buffer): void {
    const offset = this.ring.head;
    this.ring.append(data);
    for (let at = 0; at < data.length; at += MAX_CHUNK_BYTES) {
      const sent = this.link.sendOutput(encodeShellOutputFrame({ session: this.spec.id, offset: offset + at, data: data.subarray(at, at + MAX_CHUNK_BYTES) }));
      if (!sent) this.unsentFrom ??= offset + at;
    }
    this.checkFlow();
  }

  private onExit(code: number | null, signal: string | null): void {
    if (this.exit) return;
    this.exit = { code, signal };
    this.stopGrace();
    this.setPaused(false);
    this.sendExit();
    clearInterval(this.sweepTimer);
    setTimeout(() => this.onGone(this.spec.id), EXITED_KEPT_MS).unref();
    this.log.info('shell ended', { session: this.spec.id, code, signal });
  }

  private sendExit(): void {
    this.link.sendJson({ type: 'shell_exit', v: 1, session: this.spec.id, code: this.exit!.code, signal: this.exit!.signal });
  }

  /** §S6: behind by more than a window, or the link over its high watermark: pause; resume below half and the low one. */
  private checkFlow(): void {
    if (this.exit) return;
    const behind = this.attachments.size === 0 ? 0 : this.ring.head - Math.min(...[...this.attachments.values()].map((a) => a.acked));
    const buffered = this.link.bufferedAmount;
    if (!this.paused && (behind > SHELL_WINDOW_BYTES || buffered > SHELL_HIGH_WATERMARK)) this.setPaused(true);
    else if (this.paused && behind <= SHELL_WINDOW_BYTES / 2 && buffered <= SHELL_LOW_WATERMARK) this.setPaused(false);
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) {
      this.proc.pause();
      // The socket's drain has no event: look again while paused.
      this.flowTimer = setInterval(() => this.checkFlow(), 25);
    } else {
      clearInterval(this.flowTimer);
      this.flowTimer = undefined;
      this.proc.resume();
    }
  }

  private dropSilent(): void {
    const now = Date.now();
    for (const [id, a] of this.attachments) if (now - a.lastHeardAt > SHELL_ATTACH_TIMEOUT_MS) this.detach(id);
  }

  /** §S4: nobody attached: reap after the grace. */
  private startGrace(): void {
    if (this.exit || this.graceTimer) return;
    this.graceTimer = setTimeout(() => {
      this.log.info('shell reaped: nobody attached within the grace', { session: this.spec.id, graceMs: this.spec.graceMs });
      void this.kill();
    }, this.spec.graceMs);
  }

  private stopGrace(): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }
}
