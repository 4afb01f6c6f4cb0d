import type { JobStatus } from '@vmo/client';

/**
 * How a child's status reads on the run pages: the same tones as StatusBadge, except `skipped`,
 * which is grey here (the child never ran: the run's rules held it back), not red.
 */
export type Tone = 'ok' | 'bad' | 'running' | 'wait' | 'muted';

export function childTone(status: string): Tone {
  switch (status) {
    case 'succeeded':
      return 'ok';
    case 'running':
      return 'running';
    case 'queued':
      return 'wait';
    case 'canceled':
    case 'skipped':
      return 'muted';
    default:
      return 'bad'; // failed, timed_out, lost
  }
}

/** The progress bar's segments, left to right: what ended (good, bad, neither), then what is still to come. */
export const PROGRESS_SEGMENTS: readonly { label: string; statuses: readonly JobStatus[]; tone: Tone }[] = [
  { label: 'succeeded', statuses: ['succeeded'], tone: 'ok' },
  { label: 'failed', statuses: ['failed', 'timed_out', 'lost'], tone: 'bad' },
  { label: 'canceled or skipped', statuses: ['canceled', 'skipped'], tone: 'muted' },
  { label: 'running', statuses: ['running'], tone: 'running' },
  { label: 'queued', statuses: ['queued'], tone: 'wait' },
];

export type ChildCounts = Record<JobStatus, number>;

export const sumOf = (counts: ChildCounts, statuses: readonly JobStatus[]): number => statuses.reduce((n, s) => n + (counts[s] ?? 0), 0);
