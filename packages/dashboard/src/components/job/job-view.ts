import type { Job, JobStatus } from '@vmo/client';
import { isTerminal } from '@vmo/shared/domain';

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
