import { readdirSync, readFileSync } from 'node:fs';

/** What marks a process as belonging to a job or a shell session. */
export interface ProcessMark {
  /** An environment variable vmo set on the process's ancestor (`VMO_JOB_ID`, `VMO_SHELL_SESSION`), inherited by what it started. */
  env?: { name: string; value: string };
  /** A session id (field 6 of /proc/PID/stat): everything a PTY's shell started, whatever process group job control gave it. */
  sessionId?: number;
}

/**
 * The pids on this machine carrying `mark` (either of its parts), this process excepted. Matching
 * on the environment or the kernel's session id, not on stored pids, cannot hit an unrelated
 * process that reused a pid; a process that cleared its environment and called setsid() escapes
 * both, which is as far as an unprivileged agent can see.
 *
 * Linux only (/proc); elsewhere, and for processes of other users, it finds nothing.
 */
export function findMarkedProcesses(mark: ProcessMark): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const needle = mark.env ? Buffer.from(`\0${mark.env.name}=${mark.env.value}\0`) : undefined;
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (mark.sessionId !== undefined && sessionOf(pid) === mark.sessionId) {
      found.push(pid);
      continue;
    }
    if (!needle) continue;
    try {
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
      if (environ.includes(needle)) found.push(pid);
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

/** Field 6 of /proc/PID/stat, after the command name (which may hold spaces and parentheses). */
function sessionOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // state ppid pgrp session …
    const sid = Number(fields[3]);
    return Number.isInteger(sid) ? sid : undefined;
  } catch {
    return undefined;
  }
}

/** Send `signal` to each pid and its process group (a group leader's pipeline); the ones already gone are skipped. */
export function signalProcesses(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, signal);
      } catch {
        // not a group leader (first), or already gone
      }
    }
  }
}
