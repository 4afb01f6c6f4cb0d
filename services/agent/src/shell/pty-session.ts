import { accessSync } from 'node:fs';
import { constants } from 'node:os';
import { findMarkedProcesses, jobEnv, signalProcesses } from '@vmo/shared/process';
import type { RunAsUser } from '@vmo/shared/process';
import type { ShellOpenFrame, ShellProcess } from '@vmo/shared/shells';
import type { Logger } from '../logger.ts';

type Spawn = typeof import('node-pty').spawn;

/** Between SIGHUP and SIGKILL when a session is reaped. */
const REAP_KILL_MS = 2_000;

/**
 * The agent's terminal for a session (SHELL.md §S3–§S6 are @vmo/shared/shells HeldShellSession):
 * a node-pty PTY running the login shell, or `/bin/sh -c <command>`, as the agent's run-as user.
 */
export function spawnPtyProcess(open: ShellOpenFrame, spawn: Spawn, log: Logger, runAs?: RunAsUser): ShellProcess {
  const identity = runAs ? { name: runAs.name, home: runAs.home } : undefined;
  const shell = open.command === null ? loginShell() : '/bin/sh';
  const env: Record<string, string> = { ...jobEnv(open.session, { TERM: 'xterm-256color', SHELL: shell }, identity), VMO_SHELL_SESSION: open.session };
  delete env['VMO_JOB_ID']; // not a job: the orphan sweep must not take it for one
  const pty = spawn(shell, open.command === null ? ['-l'] : ['-c', open.command], {
    name: 'xterm-256color',
    cols: open.cols,
    rows: open.rows,
    cwd: identity?.home ?? env['HOME'] ?? '/',
    env,
    // Bytes, not strings: the offsets count bytes, and a UTF-8 sequence cut between two reads must stay byte-exact.
    encoding: null,
    ...(runAs && { uid: runAs.uid, gid: runAs.gid }),
  } as Parameters<Spawn>[2]);
  return {
    write: (data) => pty.write(data as unknown as string),
    resize: (cols, rows) => pty.resize(cols, rows),
    pause: () => pty.pause(),
    resume: () => pty.resume(),
    onData: (listener) => void pty.onData((data) => listener(Buffer.isBuffer(data) ? data : Buffer.from(data))),
    onExit: (listener) =>
      void pty.onExit(({ exitCode, signal }) => {
        // node-pty may report the exit before the last read: let pending reads land first.
        setTimeout(() => listener(signal ? null : exitCode, signal ? signalName(signal) : null), 50);
      }),
    /**
     * SIGHUP, then SIGKILL what is left after REAP_KILL_MS. LOUD: not only the shell's process
     * group: an interactive shell gives each pipeline a group of its own, and `nohup`, `trap '' HUP`
     * or a disowned job ignore the HUP. So every process in the PTY's session (its leader is the
     * shell) or carrying VMO_SHELL_SESSION=<id> is signalled. Resolves once none is left (or after
     * the SIGKILL), so an agent that stops waits for it.
     */
    reap: async () => {
      const mark = { env: { name: 'VMO_SHELL_SESSION', value: open.session }, sessionId: pty.pid };
      signalProcesses([pty.pid, ...findMarkedProcesses(mark)], 'SIGHUP');
      const deadline = Date.now() + REAP_KILL_MS;
      while (Date.now() < deadline && findMarkedProcesses(mark).length > 0) await new Promise((r) => setTimeout(r, 50));
      // Looked up again: a pid seen before the wait may have been reused since.
      const left = findMarkedProcesses(mark);
      if (left.length > 0) {
        log.info('shell reap: SIGKILL for what ignored SIGHUP', { session: open.session, processes: left.length });
        signalProcesses(left, 'SIGKILL');
      }
    },
  };
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
