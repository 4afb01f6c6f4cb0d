import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

/**
 * The spawn helper: one small long-lived Node process per service that forks the job commands, so
 * that fork() does not copy the page tables of the service itself (issue 16, "spawn without the
 * fork tax").
 *
 * Why: libuv (Node 20, libuv 1.46) spawns with a plain fork() on Linux (clone(SIGCHLD), no
 * CLONE_VM/CLONE_VFORK; strace shows it), and child_process.spawn() returns only once the child
 * has exec'd, blocking the event loop meanwhile. Its cost grows with the parent's mapped memory:
 * measured spawn() of /bin/true from node, minimum of 300: 0.52 ms at 54 MiB RSS, 0.9 ms at
 * 80 MiB, 1.55 ms at 134 MiB (a built worker holds ~130 MiB, the agent ~75 MiB; under tsx
 * 180/110). The helper holds ~40 MiB whatever the service holds, and its spawn() blocks its own
 * event loop, not the service's.
 *
 * What it does NOT change: everything a job's process is promised stays in spawnJobProcess
 * (spawn-job-process.ts), which runs on a HelperChild exactly as on a ChildProcess: a process
 * group per job (the helper spawns detached), signals to the whole group (sent by the service
 * itself, to the pid the helper reports), exit code and signal, stdin closed, env/cwd/run-as as
 * computed by the service, output with backpressure, the linger after the shell exits.
 *
 * The output does not pass through the helper: it hands the job's stdout and stderr pipes to the
 * service over its IPC channel (SCM_RIGHTS, Node's handle passing) without reading them, and the
 * service reads them as it reads a child's own. (Relaying the bytes through the helper was tried
 * first: it halved a raw pipe's throughput and cost the service 1.5x the CPU per byte.)
 *
 * LOUD: the helper dies with its parent. At EOF of its stdin, a pipe the service holds open (the
 * service exited, or was killed -9), it SIGKILLs the process group of every job still running and
 * exits.
 * It ignores SIGINT/SIGTERM/SIGHUP: a Ctrl-C or a signal to the service's process group must not
 * take the jobs' reader away before the service decides what happens to them. If the helper
 * itself dies, the service kills the groups of the jobs it ran and reports them ended by SIGKILL;
 * the next job starts a new helper.
 *
 * Messages (Node IPC, JSON). Service → helper: {op: 'spawn', id, file, args, cwd, env}. Helper →
 * service: {ev: 'spawned', id, pid}, {ev: 'pipe', id, fd} with the pipe's handle, {ev: 'exit', id,
 * code, signal}, {ev: 'error', id, code, message} (could not start).
 */

/** Plain CommonJS, run by `node -e`: it must not import anything of ours (the agent is one bundled file). */
const HELPER_SOURCE = String.raw`'use strict';
const { spawn } = require('node:child_process');
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const jobs = new Map();
// The service is gone (its IPC channel closed), or this helper broke: no job may outlive it.
function shutdown(code) {
  for (const child of jobs.values()) {
    if (child.pid === undefined) continue;
    try { process.kill(-child.pid, 'SIGKILL'); } catch {}
  }
  process.exit(code);
}
function tell(message, handle) {
  if (!process.connected) return shutdown(0);
  process.send(message, handle, (err) => { if (err) shutdown(0); });
}
function start(m) {
  let child;
  try {
    child = spawn(m.file, m.args, { cwd: m.cwd === null ? undefined : m.cwd, env: m.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    tell({ ev: 'error', id: m.id, code: err.code || 'ERR_SPAWN', message: err.message });
    return;
  }
  child.once('error', (err) => {
    jobs.delete(m.id);
    tell({ ev: 'error', id: m.id, code: err.code || 'ERR_SPAWN', message: err.message });
  });
  if (child.pid === undefined) return; // 'error' follows
  jobs.set(m.id, child);
  // LOUD: not one byte may be read here. A child's pipe starts reading when it is created; stop
  // it in this same tick, before the event loop could poll it, then hand it over (Node closes
  // this copy once sent). A byte read here would be lost.
  for (const pipe of [child.stdout, child.stderr]) {
    pipe._handle.reading = false;
    pipe._handle.readStop();
  }
  tell({ ev: 'spawned', id: m.id, pid: child.pid });
  tell({ ev: 'pipe', id: m.id, fd: 1 }, child.stdout);
  tell({ ev: 'pipe', id: m.id, fd: 2 }, child.stderr);
  child.once('exit', (code, signal) => {
    jobs.delete(m.id);
    tell({ ev: 'exit', id: m.id, code, signal });
  });
}
process.on('message', (m) => { if (m && m.op === 'spawn') start(m); });
process.on('disconnect', () => shutdown(0));
// LOUD: the one sure sign that the service is gone. The IPC channel is not enough: killed while a
// handle was on its way (waiting for the service's acknowledgement), it never said 'disconnect'.
// stdin is a pipe the service holds open and never writes: EOF when it dies, however it dies.
process.stdin.on('end', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();
process.on('uncaughtException', (err) => {
  try { process.stderr.write('vmo spawn helper: ' + (err && err.stack || err) + '\n'); } catch {}
  shutdown(70);
});
`;

type HelperEvent =
  | { ev: 'spawned'; id: number; pid: number }
  | { ev: 'pipe'; id: number; fd: 1 | 2 }
  | { ev: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { ev: 'error'; id: number; code: string; message: string };

export interface HelperSpawnOptions {
  cwd: string | undefined;
  env: Record<string, string>;
}

/**
 * One of a HelperChild's pipes, there from the start: the job's pipe itself (a socket handed over
 * by the helper) arrives a moment later and is read through it. pause/resume/destroy act on that
 * socket as they would on a ChildProcess's own stdout.
 */
class HelperPipe extends Readable {
  private socket: Socket | undefined;
  private wantPaused = false;

  constructor() {
    super({ read() {} });
  }

  attach(socket: Socket): void {
    this.socket = socket;
    if (this.destroyed) {
      socket.destroy();
      return;
    }
    socket.on('data', (d: Buffer) => {
      if (!this.destroyed) this.push(d);
    });
    // Its end is the job's pipe's end; an error (EIO, reset) ends it as EOF would for a child's pipe.
    const end = () => {
      if (!this.destroyed && !this.readableEnded) this.push(null);
    };
    socket.once('end', end);
    socket.once('error', end);
    if (this.wantPaused) socket.pause();
  }

  /** The pipe never came (the helper died first): end it. */
  abandon(): void {
    if (!this.socket && !this.destroyed && !this.readableEnded) this.push(null);
  }

  override pause(): this {
    this.wantPaused = true;
    this.socket?.pause();
    return super.pause();
  }

  override resume(): this {
    this.wantPaused = false;
    this.socket?.resume();
    return super.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket?.destroy();
    cb(err);
  }
}

/**
 * What spawnJobProcess needs of a ChildProcess, for a process the helper started: `pid` is set
 * (and 'spawn' emitted) once the helper reports it; 'error' when it could not start; 'exit'.
 */
export class HelperChild extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdout = new HelperPipe();
  readonly stderr = new HelperPipe();
  /** Set once 'exit' or 'error' was emitted: a helper that dies later must not report this one again. */
  settled = false;
  /** Messages still expected from the helper: both pipes and the exit. */
  awaiting = 3;
}

export class SpawnHelper {
  private proc: ChildProcess | undefined;
  private readonly children = new Map<number, HelperChild>();
  private nextId = 1;

  /** The helper's pid while it runs (tests kill it to see its jobs reported and killed). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Start `file args` through the helper (started on first use). */
  spawn(file: string, args: string[], opts: HelperSpawnOptions): HelperChild {
    const id = this.nextId;
    this.nextId = this.nextId >= 0x3fff_ffff ? 1 : this.nextId + 1;
    const child = new HelperChild();
    this.children.set(id, child);
    const proc = this.ensureStarted();
    try {
      proc.send({ op: 'spawn', id, file, args, cwd: opts.cwd ?? null, env: opts.env }, (err) => {
        if (err) this.onHelperGone(proc);
      });
    } catch {
      queueMicrotask(() => this.onHelperGone(proc));
    }
    return child;
  }

  private ensureStarted(): ChildProcess {
    if (this.proc) {
      this.setRef(true);
      return this.proc;
    }
    // No NODE_OPTIONS, no --import: the helper loads nothing but its own few lines (a service run
    // under tsx or with a profiling hook must not hand those to it). A small young generation
    // keeps its memory, and so its fork() cost, low.
    const proc = spawn(process.execPath, ['--max-semi-space-size=2', '-e', HELPER_SOURCE], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'ignore', 'inherit', 'ipc'],
    });
    this.proc = proc;
    proc.stdin!.on('error', () => {}); // held open, never written: its EOF tells the helper we are gone
    proc.on('message', (m: HelperEvent, handle: unknown) => this.onMessage(m, handle as Socket | undefined));
    proc.once('error', () => this.onHelperGone(proc));
    proc.once('exit', () => this.onHelperGone(proc));
    proc.once('disconnect', () => this.onHelperGone(proc));
    return proc;
  }

  /** An idle helper must not keep the service (or a test process) alive; one with jobs must. */
  private setRef(ref: boolean): void {
    const proc = this.proc;
    if (!proc) return;
    const channel = proc.channel as { ref?(): void; unref?(): void } | undefined;
    if (ref) {
      proc.ref();
      channel?.ref?.();
      (proc.stdin as Socket | null)?.ref();
    } else {
      proc.unref();
      channel?.unref?.();
      (proc.stdin as Socket | null)?.unref();
    }
  }

  private onMessage(m: HelperEvent, handle: Socket | undefined): void {
    const child = this.children.get(m.id);
    if (!child) {
      handle?.destroy();
      return;
    }
    switch (m.ev) {
      case 'spawned':
        child.pid = m.pid;
        child.emit('spawn');
        break;
      case 'pipe': {
        const pipe = m.fd === 1 ? child.stdout : child.stderr;
        if (handle) pipe.attach(handle);
        else pipe.abandon();
        this.received(m.id, child);
        break;
      }
      case 'exit':
        child.settled = true;
        child.exitCode = m.code;
        child.signalCode = m.signal;
        child.emit('exit', m.code, m.signal);
        // As Node does for a ChildProcess (flushStdio, on the tick after 'exit'): pipes paused at
        // the exit are resumed, so what is left in them is read. spawnJobProcess is written
        // against that behaviour (its backpressure pauses again after each read).
        process.nextTick(() => {
          for (const pipe of [child.stdout, child.stderr]) if (pipe.readable) pipe.resume();
        });
        this.received(m.id, child);
        break;
      case 'error':
        child.settled = true;
        this.forget(m.id);
        child.emit('error', Object.assign(new Error(m.message), { code: m.code }));
        child.stdout.destroy();
        child.stderr.destroy();
        break;
    }
  }

  private received(id: number, child: HelperChild): void {
    if (--child.awaiting === 0) this.forget(id);
  }

  private forget(id: number): void {
    this.children.delete(id);
    if (this.children.size === 0) this.setRef(false);
  }

  /**
   * The helper exited (or could not start). Its jobs have no parent to report their exit: kill
   * their groups, end pipes that never came, and report them ended by SIGKILL (or not started,
   * if the helper never said).
   */
  private onHelperGone(proc: ChildProcess): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    const children = [...this.children.values()];
    this.children.clear();
    for (const child of children) {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // ESRCH: already gone
        }
      }
      child.stdout.abandon();
      child.stderr.abandon();
      if (child.settled) continue;
      child.settled = true;
      if (child.pid === undefined) child.emit('error', Object.assign(new Error('the spawn helper exited before starting the command'), { code: 'ERR_SPAWN_HELPER' }));
      else child.emit('exit', null, 'SIGKILL');
    }
  }
}

let shared: SpawnHelper | undefined;

/**
 * The process's spawn helper, or undefined where it is not used: off with VMO_SPAWN_HELPER=0, and
 * anywhere but Linux (the measurement and the process-group handling it relies on are Linux's).
 */
export function spawnHelper(): SpawnHelper | undefined {
  if (process.platform !== 'linux' || process.env.VMO_SPAWN_HELPER === '0') return undefined;
  return (shared ??= new SpawnHelper());
}
