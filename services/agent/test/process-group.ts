import { readdirSync, readFileSync } from 'node:fs';
import { findMarkedProcesses } from '@vmo/shared/process';

/** Live (non-zombie) processes in a process group, from /proc. */
export function livePidsInGroup(pgid: number): number[] {
  // A missing pgid (a `started` with pid null) would find nothing, and "nothing left" would pass.
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`livePidsInGroup: not a process group id: ${pgid}`);
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(name));
  }
  return pids;
}

/**
 * The process group of a job's command (its shell's pid), found by the job's VMO_JOB_ID. The
 * agent's `started` carries pid null when the pid was not known yet (the spawn helper reports it
 * a moment after the agent answered), so tests find the group this way.
 */
export function jobGroup(jobId: string): number | undefined {
  for (const pid of findMarkedProcesses({ env: { name: 'VMO_JOB_ID', value: jobId } })) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}
