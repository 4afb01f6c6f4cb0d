import { constants } from 'node:os';
import { ExitCode } from '../exit-codes.ts';

/** What a finished job says about how it ended: the stream's `end` frame, with the job's `error` when it had one. */
export interface JobEnding {
  status: string;
  exitCode: number | null;
  signal: string | null;
  error?: { code: string; message: string } | null | undefined;
}

/** 128 + the signal's number (`SIGKILL` → 137), as a shell reports a killed command; undefined for a name this platform does not know. */
export function signalExitCode(signal: string): number | undefined {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? undefined : 128 + n;
}

/**
 * The exit status of `vmo run` / `vmo logs -f` for a job that ended this way (exit-codes.ts):
 * the command's own code, 128 + a signal, or vmo's code for how the job ended without one.
 */
export function jobExitCode(end: JobEnding): number {
  switch (end.status) {
    case 'succeeded':
      return end.exitCode ?? 0;
    case 'canceled':
      return ExitCode.canceled;
    case 'timed_out':
      return ExitCode.timedOut;
    case 'lost':
      return ExitCode.lost;
    case 'failed': {
      if (end.exitCode !== null) return end.exitCode;
      if (end.signal !== null) return signalExitCode(end.signal) ?? ExitCode.jobError;
      if (end.error?.code === 'agent_offline') return ExitCode.agentOffline;
      return ExitCode.jobError;
    }
    default:
      // `skipped` (a run's child only) and anything a newer server adds.
      return ExitCode.jobError;
  }
}

/** A one-line account of an ending that is not the command's own exit (for stderr), or undefined when there is nothing to say. */
export function describeEnding(jobId: string, end: JobEnding): string | undefined {
  if (end.status === 'succeeded' || (end.status === 'failed' && end.exitCode !== null)) return undefined;
  const why = end.error ? `: ${end.error.code}: ${end.error.message}` : end.signal ? ` (${end.signal})` : '';
  return `job ${jobId} ${end.status}${why}`;
}
