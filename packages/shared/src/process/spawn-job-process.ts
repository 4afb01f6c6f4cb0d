import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { jobEnv } from './job-env.ts';
import { setprivArgs, type RunAsUser } from './run-as.ts';

export interface JobProcessSpec {
  jobId: string;
  command: string;
  env: Record<string, string>;
  cwd: string | null;
  /** Run the command as this user (VMO_RUN_AS) instead of the service's own. */
  runAs?: RunAsUser;
}

export interface JobProcessExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the process could not be started (bad cwd, no /bin/sh). */
  error?: { code: string; message: string };
  /**
   * True when stop() or kill() signalled the group while the shell was still running: the exit
   * may be our doing. False when the shell had exited first: a cancel that came later must not
   * be recorded as the cause (the exit that happened first wins).
   */
  stopped: boolean;
}

export interface JobProcess {
  readonly pid: number | undefined;
  /** Resolves once the shell has exited and its pipes are drained (or abandoned, see below). */
  readonly exited: Promise<JobProcessExit>;
  /** SIGTERM to the whole process group, SIGKILL to the group after `graceMs`. Idempotent. */
  stop(graceMs: number): void;
  /** SIGKILL the whole process group now. */
  kill(): void;
  /** Backpressure: stop reading the pipes (the command blocks on write) / start again. */
  pause(): void;
  resume(): void;
}

/**
 * After the shell exits, a background child may still hold stdout open (`daemon &`). We keep
 * reading for this long, then stop: the job is over when its shell is. (A cancel or timeout
 * still kills the whole group.)
 */
const PIPE_LINGER_MS = 1000;

/**
 * Run `/bin/sh -c <command>` in its own process group: the local executor and the agent both use
 * this, so a job behaves the same wherever it runs. Output is delivered raw per stream; the
 * caller numbers it (OutputRecorder).
 */
export function spawnJobProcess(spec: JobProcessSpec, onOutput: (stream: 1 | 2, data: Buffer) => void): JobProcess {
  const { runAs } = spec;
  // setpriv execs the shell in place: the pid, and so the process group, stay the same.
  const [file, args] = runAs?.setpriv ? [runAs.setpriv, [...setprivArgs(runAs), '--', '/bin/sh', '-c', spec.command]] : ['/bin/sh', ['-c', spec.command]];
  const child = spawn(file, args, {
    cwd: spec.cwd ?? runAs?.cwd ?? undefined,
    env: jobEnv(spec.jobId, spec.env, runAs),
    detached: true, // own process group: cancel reaches every descendant
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pgid = child.pid;
  let killTimer: NodeJS.Timeout | undefined;
  let groupGone = false;
  let paused = false;
  let shellExited = false;
  let stoppedWhileRunning = false;

  // LOUD: the linger clock runs only while we are reading. If it kept running while the caller
  // has paused the pipes (backpressure), output still sitting in the pipes would be thrown away
  // when it fired, although the command wrote it and exited normally.
  const linger = { leftMs: PIPE_LINGER_MS, startedAt: 0, timer: undefined as NodeJS.Timeout | undefined, expire: undefined as (() => void) | undefined };
  const runLinger = () => {
    if (!linger.expire || paused || linger.timer) return;
    linger.startedAt = Date.now();
    linger.timer = setTimeout(linger.expire, linger.leftMs);
  };
  const holdLinger = () => {
    if (!linger.timer) return;
    clearTimeout(linger.timer);
    linger.timer = undefined;
    linger.leftMs = Math.max(0, linger.leftMs - (Date.now() - linger.startedAt));
  };

  const signalGroup = (sig: NodeJS.Signals) => {
    if (pgid === undefined || groupGone) return;
    try {
      process.kill(-pgid, sig);
      if (!shellExited) stoppedWhileRunning = true;
    } catch {
      groupGone = true; // ESRCH: nothing left in the group
    }
  };

  child.stdout!.on('data', (d: Buffer) => onOutput(1, d));
  child.stderr!.on('data', (d: Buffer) => onOutput(2, d));

  const exited = new Promise<JobProcessExit>((resolve) => {
    let spawnError: JobProcessExit['error'];
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = { code: 'spawn_failed', message: `could not start the command: ${err.message}${spec.cwd ? ` (cwd ${spec.cwd})` : ''}` };
      resolve({ exitCode: null, signal: null, error: spawnError, stopped: false });
    });
    child.once('exit', (code, signal) => {
      shellExited = true;
      const result: JobProcessExit = { exitCode: code, signal: signal ?? null, stopped: stoppedWhileRunning };
      const pipes = [child.stdout!, child.stderr!];
      // LOUD: wait only on the pipes still open. A pipe that already ended may still emit
      // 'close' later; counting it would resolve while the other pipe still holds output.
      const stillOpen = pipes.filter((p) => !p.readableEnded && !p.destroyed);
      let open = stillOpen.length;
      if (open === 0) return resolve(result);
      linger.expire = () => {
        for (const p of pipes) p.destroy();
        resolve(result);
      };
      runLinger();
      for (const p of stillOpen) {
        p.once('close', () => {
          if (--open === 0) {
            holdLinger();
            resolve(result);
          }
        });
      }
    });
  });

  return {
    pid: child.pid,
    exited,
    stop(graceMs) {
      if (killTimer) return;
      signalGroup('SIGTERM');
      // Fires even after the shell has exited: whatever is left of the group is killed too.
      killTimer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      killTimer.unref();
    },
    kill() {
      signalGroup('SIGKILL');
    },
    pause() {
      paused = true;
      holdLinger();
      child.stdout!.pause();
      child.stderr!.pause();
    },
    resume() {
      paused = false;
      child.stdout!.resume();
      child.stderr!.resume();
      runLinger();
    },
  };
}

/** Signal number → name, for exits reported as numbers (e.g. by ssh). */
export const signalName = (n: number): string | null =>
  (Object.entries(constants.signals).find(([, v]) => v === n)?.[0] as string | undefined) ?? null;
