import { accessSync } from 'node:fs';
import { constants } from 'node:os';
import type { IPty } from 'node-pty';
import { findMarkedProcesses, jobEnv, signalProcesses } from '@vmo/shared/process';
import type { RunAsUser } from '@vmo/shared/process';
import {
  MAX_CHUNK_BYTES,
  SHELL_ATTACH_TIMEOUT_MS,
  SHELL_HIGH_WATERMARK,
  SHELL_LOW_WATERMARK,
  SHELL_WINDOW_BYTES,
  encodeShellOutputFrame,
  type AgentToServer,
} from '@vmo/shared/protocol';
import type { Logger } from '../logger.ts';
import { OutputRing } from './output-ring.ts';

/** What a session needs from the agent's connection. */
export interface ShellLink {
  /** False when not connected: the bytes stay in the ring (a reattach replays them). */
  sendOutput(frame: Buffer): boolean;
  sendJson(msg: AgentToServer): boolean;
  /** The agent socket's bufferedAmount (§S6). */
  readonly bufferedAmount: number;
}

export interface PtySessionSpec {
  id: string;
  cols: number;
  rows: number;
  command: string | null;
  graceMs: number;
  ringBytes: number;
  runAs?: RunAsUser | undefined;
}

type Spawn = typeof import('node-pty').spawn;

interface Attachment {
  /** Highest offset its API node has acknowledged (§S6). */
  acked: number;
  lastHeardAt: number;
}

/** After the PTY exits, how long a reattach still gets the end of its output and the exit. */
const EXITED_KEPT_MS = 60_000;
/** Between SIGHUP and SIGKILL when a session is reaped. */
const REAP_KILL_MS = 2_000;

/**
 * One PTY and its ring (SHELL.md §S3–§S6). Output is numbered by byte offset, kept in the ring,
 * and sent to the server as it comes while connected, in offset order. The PTY is paused while
 * any attachment is more than a window behind, or the agent socket is over its high watermark.
 */
export class PtySession {
  private readonly ring: OutputRing;
  private readonly pty: IPty;
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
    readonly spec: PtySessionSpec,
    spawn: Spawn,
    private readonly link: ShellLink,
    private readonly log: Logger,
    private readonly onGone: (id: string) => void,
  ) {
    this.ring = new OutputRing(spec.ringBytes);
    const identity = spec.runAs ? { name: spec.runAs.name, home: spec.runAs.home } : undefined;
    const shell = spec.command === null ? loginShell() : '/bin/sh';
    const env: Record<string, string> = { ...jobEnv(spec.id, { TERM: 'xterm-256color', SHELL: shell }, identity), VMO_SHELL_SESSION: spec.id };
    delete env['VMO_JOB_ID']; // not a job: the orphan sweep must not take it for one
    this.pty = spawn(shell, spec.command === null ? ['-l'] : ['-c', spec.command], {
      name: 'xterm-256color',
      cols: spec.cols,
      rows: spec.rows,
      cwd: identity?.home ?? env['HOME'] ?? '/',
      env,
      // Bytes, not strings: the offsets count bytes, and a UTF-8 sequence cut between two reads must stay byte-exact.
      encoding: null,
      ...(spec.runAs && { uid: spec.runAs.uid, gid: spec.runAs.gid }),
    } as Parameters<Spawn>[2]);
    this.pty.onData((data) => this.onData(Buffer.isBuffer(data) ? data : Buffer.from(data)));
    this.pty.onExit(({ exitCode, signal }) => {
      // node-pty may report the exit before the last read: let pending reads land first.
      setTimeout(() => this.onExit(signal ? null : exitCode, signal ? signalName(signal) : null), 50);
    });
    // §S4: an attachment whose API node has gone silent (it died) stops holding the session.
    this.sweepTimer = setInterval(() => this.dropSilent(), 5_000);
    this.sweepTimer.unref();
    this.startGrace(); // until the first attach arrives (it is on its way)
  }

  get head(): number {
    return this.ring.head;
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
   * The agent is connected again (welcome): LOUD: what it could not send while disconnected is
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
    if (!this.exit) this.pty.write(data as unknown as string);
  }

  resize(cols: number, rows: number): void {
    if (!this.exit) this.pty.resize(cols, rows);
  }

  /**
   * Kill everything the session started (the agent stops, or the grace is over): SIGHUP, then
   * SIGKILL what is left after REAP_KILL_MS. LOUD: not only the shell's process group: an
   * interactive shell gives each pipeline a group of its own, and `nohup`, `trap '' HUP` or a
   * disowned job ignore the HUP. So every process in the PTY's session (its leader is the shell)
   * or carrying VMO_SHELL_SESSION=<id> is signalled. Resolves once none is left (or after the
   * SIGKILL), so an agent that stops waits for it.
   */
  kill(): Promise<void> {
    if (this.killing) return this.killing;
    if (this.exit) return Promise.resolve();
    this.killing = this.reap();
    return this.killing;
  }

  private async reap(): Promise<void> {
    const mark = { env: { name: 'VMO_SHELL_SESSION', value: this.spec.id }, sessionId: this.pty.pid };
    signalProcesses([this.pty.pid, ...findMarkedProcesses(mark)], 'SIGHUP');
    const deadline = Date.now() + REAP_KILL_MS;
    while (Date.now() < deadline && findMarkedProcesses(mark).length > 0) await new Promise((r) => setTimeout(r, 50));
    // Looked up again: a pid seen before the wait may have been reused since.
    const left = findMarkedProcesses(mark);
    if (left.length > 0) {
      this.log.info('shell reap: SIGKILL for what ignored SIGHUP', { session: this.spec.id, processes: left.length });
      signalProcesses(left, 'SIGKILL');
    }
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

  /** §S6: behind by more than a window, or the socket over its high watermark: pause; resume below half and the low one. */
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
      this.pty.pause();
      // The socket's drain has no event: look again while paused.
      this.flowTimer = setInterval(() => this.checkFlow(), 25);
    } else {
      clearInterval(this.flowTimer);
      this.flowTimer = undefined;
      this.pty.resume();
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

function loginShell(): string {
  for (const candidate of ['/bin/bash', '/bin/sh']) {
    try {
      accessSync(candidate);
      return candidate;
    } catch {
      /* next */
    }
  }
  return '/bin/sh';
}

function signalName(n: number): string {
  const entry = Object.entries(constants.signals).find(([, value]) => value === n);
  return entry ? entry[0] : String(n);
}
