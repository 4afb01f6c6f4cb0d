import type { Job, JobStatus } from '@vmo/client';
import { isTerminal } from '@vmo/shared/domain';

/** The job's target in one word as `vmo run --on` takes it and `/jobs/new?target=` reads it: `local`, `agent:NAME`, `ssh:HOST`. */
export function targetParam(job: Pick<Job, 'target'>): string {
  const t = job.target;
  return t.type === 'local' ? 'local' : t.type === 'agent' ? `agent:${t.agent}` : `ssh:${t.host}`;
}

/** Where it runs, for reading: a run child's resolved name, else the target as given. */
export function targetText(job: Pick<Job, 'target' | 'targetName'>): string {
  const t = job.target;
  if (t.type === 'local') return 'local (a worker)';
  return `${t.type === 'agent' ? 'agent' : 'ssh'} ${job.targetName ?? (t.type === 'agent' ? t.agent : t.host)}`;
}

/** The New job page, filled in with this job's command and target. */
export function runAgainHref(job: Pick<Job, 'command' | 'target'>): string {
  return `/jobs/new?${new URLSearchParams({ command: job.command, target: targetParam(job) })}`;
}

export const isEnded = (status: JobStatus): boolean => isTerminal(status);

/**
 * The status to show when the stream and a fetch disagree: a final status never changes again, so
 * an answer fetched before the end (and arriving after it) cannot take the page back to running.
 */
export function laterStatus(shown: JobStatus, incoming: JobStatus): JobStatus {
  if (isTerminal(shown)) return shown;
  if (shown === 'running' && incoming === 'queued') return shown;
  return incoming;
}

/** The file name a download saves as. */
export function logFileName(job: Pick<Job, 'id'>): string {
  return `${job.id}.log`;
}
