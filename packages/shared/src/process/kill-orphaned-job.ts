import { findMarkedProcesses, signalProcesses } from './marked-processes.ts';

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
  const pids = findMarkedProcesses({ env: { name: 'VMO_JOB_ID', value: jobId } });
  signalProcesses(pids, 'SIGKILL');
  return pids.length;
}
