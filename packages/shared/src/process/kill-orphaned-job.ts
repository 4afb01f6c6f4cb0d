import { readdirSync, readFileSync } from 'node:fs';

/**
 * SIGKILL every process on this machine that belongs to job `jobId`: the processes whose
 * environment carries `VMO_JOB_ID=<jobId>` (set by jobEnv for every job command), and their
 * process groups. For a job whose worker died with -9: its command, in a process group of its own,
 * outlived it and nobody else would ever stop it. Matching on the environment, not on a stored
 * pid, cannot hit an unrelated process that reused the pid.
 *
 * Linux only (/proc); elsewhere, and for processes of other users, it finds nothing. Returns the
 * number of processes signalled.
 */
export function killOrphanedJobProcesses(jobId: string): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  const needle = Buffer.from(`\0VMO_JOB_ID=${jobId}\0`);
  let killed = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: Buffer;
    try {
      environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
    } catch {
      continue; // gone, or not ours
    }
    if (!environ.includes(needle)) continue;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader (first), or already gone
      }
    }
    killed++;
  }
  return killed;
}
