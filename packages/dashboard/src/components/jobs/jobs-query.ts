import type { JobListQuery } from '@vmo/client';
import { JobStatus } from '@vmo/shared/api';

/**
 * The jobs list's filters as the address bar holds them (`/jobs?status=failed&status=lost&createdBy=olga`),
 * so a filtered view survives a reload and can be shared. One key per filter, named as GET /v1/jobs
 * names it; statuses repeat. `cursor` is the page (the jobs older than that one).
 */
export interface JobFilters {
  status: JobStatus[];
  /** An agent or SSH host: id, name or name@environment. */
  target: string;
  /** A run id (`run_…`): its children. */
  run: string;
  /** A user's name or id. */
  createdBy: string;
  /** A label selector: `k=v`, several comma-separated (`env=prod,team=ops`). */
  labels: string;
}

export const STATUSES: readonly JobStatus[] = JobStatus.options;
export const PAGE_SIZE = 50;

export const NO_FILTERS: JobFilters = { status: [], target: '', run: '', createdBy: '', labels: '' };

export function filtersFromQuery(query: URLSearchParams): JobFilters {
  // `status=failed,lost` (as the API writes it) and `status=failed&status=lost` (as setQuery does) alike.
  const status = query
    .getAll('status')
    .flatMap((s) => s.split(','))
    .filter((s): s is JobStatus => (STATUSES as readonly string[]).includes(s));
  return {
    status: [...new Set(status)],
    target: query.get('target')?.trim() ?? '',
    run: query.get('run')?.trim() ?? '',
    createdBy: query.get('createdBy')?.trim() ?? '',
    labels: query.get('labels')?.trim() ?? '',
  };
}

/** The changes setQuery applies for these filters; any filter change starts again at the newest page. */
export function queryChanges(f: JobFilters): Record<string, string | readonly string[] | undefined> {
  return { status: f.status, target: f.target.trim(), run: f.run.trim(), createdBy: f.createdBy.trim(), labels: f.labels.trim(), cursor: undefined };
}

export function hasFilters(f: JobFilters): boolean {
  return f.status.length > 0 || f.target !== '' || f.run !== '' || f.createdBy !== '' || f.labels !== '';
}

/** One page of GET /v1/jobs: only the filters that are set, and never more than PAGE_SIZE jobs. */
export function listQuery(f: JobFilters, cursor: string | undefined): JobListQuery {
  return {
    ...(f.status.length > 0 ? { status: f.status } : {}),
    ...(f.target ? { target: f.target } : {}),
    ...(f.run ? { run: f.run } : {}),
    ...(f.createdBy ? { createdBy: f.createdBy } : {}),
    ...(f.labels ? { labels: f.labels } : {}),
    ...(cursor ? { cursor } : {}),
    limit: PAGE_SIZE,
  };
}
