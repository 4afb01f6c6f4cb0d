import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
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
 * computed by the service, output with backpressure (pause/resume reach the helper, which stops
 * reading the job's pipes), the linger after the shell exits.
 *
 * LOUD: the helper dies with its parent. It reads its commands from a pipe; at EOF (the service
 * exited, or was killed -9) it SIGKILLs the process group of every job still running and exits.
 * It ignores SIGINT/SIGTERM/SIGHUP: a Ctrl-C or a signal to the service's process group must not
 * take the jobs' reader away before the service decides what happens to them. If the helper
 * itself dies, the service kills the groups of the jobs it ran and reports them ended by SIGKILL;
 * the next job starts a new helper.
 *
 * Wire format. Service → helper: one JSON command per line. Helper → service: frames of a 9-byte
 * header (u8 kind, u32le id, u32le length) and a payload: kind 1/2 the job's stdout/stderr bytes,
 * kind 3 a JSON event (spawned, error, end, exit, closed).
 */

/** Plain CommonJS, run by `node -e`: it must not import anything of ours (the agent is one bundled file). */
const HELPER_SOURCE = String.raw`'use strict';
const { spawn } = require('node:child_process');
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const jobs = new Map();
function send(kind, id, payload) {
  const head = Buffer.allocUnsafe(9);
  head.writeUInt8(kind, 0);
  head.writeUInt32LE(id, 1);
  head.writeUInt32LE(payload.length, 5);
  process.stdout.write(Buffer.concat([head, payload], 9 + payload.length));
}
const event = (id, e) => send(3, id, Buffer.from(JSON.stringify(e)));
function start(m) {
  let child;
  try {
    child = spawn(m.file, m.args, { cwd: m.cwd === null ? undefined : m.cwd, env: m.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    event(m.id, { ev: 'error', code: err.code || 'ERR_SPAWN', message: err.message });
    return;
  }
  const job = { child, open: 3, failed: false };
  jobs.set(m.id, job);
  const done = () => {
    if (--job.open === 0) {
      jobs.delete(m.id);
      if (!job.failed) event(m.id, { ev: 'closed' });
    }
  };
  child.once('error', (err) => {
    job.failed = true;
    event(m.id, { ev: 'error', code: err.code || 'ERR_SPAWN', message: err.message });
    done();
  });
  if (child.pid !== undefined) event(m.id, { ev: 'spawned', pid: child.pid });
  for (const [fd, stream] of [[1, child.stdout], [2, child.stderr]]) {
    stream.on('data', (d) => send(fd, m.id, d));
    stream.once('end', () => event(m.id, { ev: 'end', fd }));
    stream.once('close', done);
  }
  child.once('exit', (code, signal) => {
    event(m.id, { ev: 'exit', code, signal });
    done();
  });
}
function handle(m) {
  if (m.op === 'spawn') return start(m);
  const job = jobs.get(m.id);
  if (!job) return;
  const stream = m.fd === 2 ? job.child.stderr : job.child.stdout;
  if (m.op === 'pause') stream.pause();
  else if (m.op === 'resume') stream.resume();
  else if (m.op === 'destroy') stream.destroy();
}
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (s) => {
  pending += s;
  for (let i; (i = pending.indexOf('\n')) >= 0; ) {
    const line = pending.slice(0, i);
    pending = pending.slice(i + 1);
    if (line) handle(JSON.parse(line));
  }
});
// The service is gone (EOF on the commands, or its end of the output pipe closed), or this
// helper broke: no job may outlive it.
function shutdown(code) {
  for (const job of jobs.values()) {
    if (job.child.pid === undefined) continue;
    try { process.kill(-job.child.pid, 'SIGKILL'); } catch {}
  }
  process.exit(code);
}
process.stdin.on('end', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdout.on('error', () => shutdown(0));
process.on('uncaughtException', (err) => {
  try { process.stderr.write('vmo spawn helper: ' + (err && err.stack || err) + '\n'); } catch {}
  shutdown(70);
});
`;

const HEADER = 9;
const KIND_STDOUT = 1;
const KIND_STDERR = 2;
const KIND_EVENT = 3;

type HelperEvent =
  | { ev: 'spawned'; pid: number }
  | { ev: 'error'; code: string; message: string }
  | { ev: 'end'; fd: 1 | 2 }
  | { ev: 'exit'; code: number | null; signal: NodeJS.Signals | null }
  | { ev: 'closed' };

export interface HelperSpawnOptions {
  cwd: string | undefined;
  env: Record<string, string>;
}

/** One of a HelperChild's pipes: pause/resume/destroy reach the helper, which stops reading the job's pipe. */
class HelperPipe extends Readable {
  private remotePaused = false;

  constructor(
    private readonly helper: SpawnHelper,
    private readonly id: number,
    private readonly fd: 1 | 2,
  ) {
    super({ read() {} });
  }

  override pause(): this {
    if (!this.remotePaused && !this.destroyed && !this.readableEnded) {
      this.remotePaused = true;
      this.helper.command({ op: 'pause', id: this.id, fd: this.fd });
    }
    return super.pause();
  }

  override resume(): this {
    if (this.remotePaused) {
      this.remotePaused = false;
      if (!this.destroyed) this.helper.command({ op: 'resume', id: this.id, fd: this.fd });
    }
    return super.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Destroyed before its end (the linger expired): the helper stops reading and closes the pipe.
    if (!this.readableEnded) this.helper.command({ op: 'destroy', id: this.id, fd: this.fd });
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
  readonly stdout: HelperPipe;
  readonly stderr: HelperPipe;
  /** Set once 'exit' or 'error' was emitted: a helper that dies later must not report this one again. */
  settled = false;

  constructor(helper: SpawnHelper, id: number) {
    super();
    this.stdout = new HelperPipe(helper, id, 1);
    this.stderr = new HelperPipe(helper, id, 2);
  }
}

export class SpawnHelper {
  private proc: ChildProcess | undefined;
  private readonly children = new Map<number, HelperChild>();
  private nextId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** The helper's pid while it runs (tests kill it to see its jobs reported and killed). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Start `file args` through the helper (started on first use). */
  spawn(file: string, args: string[], opts: HelperSpawnOptions): HelperChild {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fff0 ? 1 : this.nextId + 1;
    const child = new HelperChild(this, id);
    this.children.set(id, child);
    this.ensureStarted();
    this.command({ op: 'spawn', id, file, args, cwd: opts.cwd ?? null, env: opts.env });
    return child;
  }

  command(msg: Record<string, unknown>): void {
    const proc = this.proc;
    if (!proc?.stdin?.writable) return; // dead: its exit handler settles every child
    proc.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  private ensureStarted(): void {
    if (this.proc) {
      this.setRef(true);
      return;
    }
    // No NODE_OPTIONS, no --import: the helper loads nothing but its own few lines (a service run
    // under tsx or with a profiling hook must not hand those to it). A small young generation
    // keeps its memory, and so its fork() cost, low while it relays output.
    const proc = spawn(process.execPath, ['--max-semi-space-size=2', '-e', HELPER_SOURCE], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.proc = proc;
    proc.stdin!.on('error', () => {}); // EPIPE once it died: the exit handler below settles everything
    proc.stdout!.on('data', (d: Buffer) => this.onData(d));
    proc.once('error', () => this.onHelperGone(proc));
    proc.once('exit', () => this.onHelperGone(proc));
  }

  /** An idle helper must not keep the service (or a test process) alive; one with jobs must. */
  private setRef(ref: boolean): void {
    const proc = this.proc;
    if (!proc) return;
    for (const h of [proc, proc.stdin, proc.stdout] as ({ ref?(): void; unref?(): void } | null)[]) {
      if (ref) h?.ref?.();
      else h?.unref?.();
    }
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    while (this.buffered >= HEADER) {
      if (this.chunks[0]!.length < HEADER) this.chunks = [Buffer.concat(this.chunks)];
      const head = this.chunks[0]!;
      const kind = head.readUInt8(0);
      const id = head.readUInt32LE(1);
      const length = head.readUInt32LE(5);
      if (this.buffered < HEADER + length) return;
      if (head.length < HEADER + length) this.chunks = [Buffer.concat(this.chunks)];
      const first = this.chunks[0]!;
      const payload = first.subarray(HEADER, HEADER + length);
      const rest = first.subarray(HEADER + length);
      if (rest.length > 0) this.chunks[0] = rest;
      else this.chunks.shift();
      this.buffered -= HEADER + length;
      this.onFrame(kind, id, payload);
    }
  }

  private onFrame(kind: number, id: number, payload: Buffer): void {
    const child = this.children.get(id);
    if (!child) return;
    if (kind === KIND_STDOUT || kind === KIND_STDERR) {
      const pipe = kind === KIND_STDOUT ? child.stdout : child.stderr;
      if (!pipe.destroyed && !pipe.readableEnded) pipe.push(payload);
      return;
    }
    if (kind !== KIND_EVENT) return;
    const e = JSON.parse(payload.toString('utf8')) as HelperEvent;
    switch (e.ev) {
      case 'spawned':
        child.pid = e.pid;
        child.emit('spawn');
        break;
      case 'end': {
        const pipe = e.fd === 1 ? child.stdout : child.stderr;
        if (!pipe.destroyed) pipe.push(null);
        break;
      }
      case 'exit':
        child.settled = true;
        child.exitCode = e.code;
        child.signalCode = e.signal;
        child.emit('exit', e.code, e.signal);
        // As Node does for a ChildProcess (flushStdio, on the tick after 'exit'): pipes paused at
        // the exit are resumed, so what is left in them is read. spawnJobProcess is written
        // against that behaviour (its backpressure pauses again after each read).
        process.nextTick(() => {
          for (const pipe of [child.stdout, child.stderr]) if (pipe.readable) pipe.resume();
        });
        break;
      case 'error':
        child.settled = true;
        this.forget(id);
        child.emit('error', Object.assign(new Error(e.message), { code: e.code }));
        child.stdout.destroy();
        child.stderr.destroy();
        break;
      case 'closed':
        this.forget(id);
        break;
    }
  }

  private forget(id: number): void {
    this.children.delete(id);
    if (this.children.size === 0) this.setRef(false);
  }

  /**
   * The helper exited (or could not start). Its jobs lost their reader: kill their groups, end
   * their pipes, and report them ended by SIGKILL (or not started, if the helper never said).
   */
  private onHelperGone(proc: ChildProcess): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    this.chunks = [];
    this.buffered = 0;
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
      for (const pipe of [child.stdout, child.stderr]) if (!pipe.destroyed && !pipe.readableEnded) pipe.push(null);
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
