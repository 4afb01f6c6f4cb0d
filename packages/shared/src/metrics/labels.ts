import { TERMINAL_STATUSES } from '../domain/job-status.ts';

/**
 * Every label value a vmo metric may carry: fixed sets, so a series count is bounded whatever
 * the fleet does. LOUD: never a job id, an agent or host name, a user or a path as a label: each
 * new value is a new series held forever by this process and by Prometheus.
 */
export const TARGET_KIND_LABELS = ['local', 'ssh', 'agent', 'unknown'] as const;
export type TargetKindLabel = (typeof TARGET_KIND_LABELS)[number];

export const FINISHED_STATUS_LABELS = TERMINAL_STATUSES;

/** BullMQ's states, as getJobCounts names them (completed jobs are removed at once: not listed). */
export const QUEUE_STATE_LABELS = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children', 'failed'] as const;
export type QueueStateLabel = (typeof QUEUE_STATE_LABELS)[number];

export const STORE_ERROR_KIND_LABELS = ['connection', 'timeout', 'query', 'other'] as const;
export type StoreErrorKind = (typeof STORE_ERROR_KIND_LABELS)[number];

export const SCRAPE_SOURCE_LABELS = ['queue', 'agents', 'ssh_pool'] as const;
export type ScrapeSourceName = (typeof SCRAPE_SOURCE_LABELS)[number];

/** Each label name of ours and the only values it may take (metrics.test.ts checks every series against it). */
export const LABEL_VALUES: Record<string, readonly string[]> = {
  target: TARGET_KIND_LABELS,
  status: FINISHED_STATUS_LABELS,
  state: QUEUE_STATE_LABELS,
  kind: STORE_ERROR_KIND_LABELS,
  source: SCRAPE_SOURCE_LABELS,
};

/** A job's target type as a label: one of the fixed kinds, `unknown` for anything else. */
export function targetKindLabel(type: unknown): TargetKindLabel {
  return type === 'local' || type === 'ssh' || type === 'agent' ? type : 'unknown';
}
