import type { VmoClient } from '@vmo/client';
import type { Schedule, ScheduleFire } from '@vmo/shared/api';

/** A schedule as the list shows it (GET /v1/schedules' items: the last fire only). */
export type ScheduleListItem = Awaited<ReturnType<VmoClient['schedules']['list']>>['items'][number];
export type { Schedule, ScheduleFire };

/** What each fire submits, in two parts: the command, and where (`agent web-1`, `selector env=prod`). */
export function whatItRuns(s: Pick<Schedule, 'job' | 'run'>): { kind: 'job' | 'run'; command: string; where: string } {
  if (s.job) {
    const t = s.job.target;
    const where = t.type === 'local' ? 'local' : t.type === 'agent' ? `agent ${t.agent}` : `ssh ${t.host}`;
    return { kind: 'job', command: s.job.command, where };
  }
  const targets = s.run?.targets;
  const parts: string[] = [];
  if (targets?.selector !== undefined) parts.push(targets.selector === '' ? 'every target' : `selector ${targets.selector}`);
  if (targets?.agents?.length) parts.push(`agents ${targets.agents.join(', ')}`);
  if (targets?.hosts?.length) parts.push(`hosts ${targets.hosts.join(', ')}`);
  return { kind: 'run', command: s.run?.command ?? '', where: parts.join(' · ') || '—' };
}

/** The page of what a fire made: its job's or its run's; undefined when it made nothing. */
export function fireHref(f: Pick<ScheduleFire, 'jobId' | 'runId'>): string | undefined {
  if (f.runId) return `/runs/${f.runId}`;
  if (f.jobId) return `/jobs/${f.jobId}`;
  return undefined;
}

/**
 * What a fire's badge says: the status of its job or run when it made one (`succeeded`,
 * `running`…), else what became of the tick (`skipped`, `failed`, `pending`).
 */
export function fireStatus(f: Pick<ScheduleFire, 'outcome' | 'status'>): string {
  if (f.outcome === 'fired') return f.status ?? 'gone';
  return f.outcome;
}

/** A time as it reads in the schedule's timezone: "29 Mar 2026, 02:30:00". */
export function formatInZone(iso: string, timeZone: string): string {
  const d = new Date(iso);
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium', timeZone }).format(d);
  } catch {
    return d.toISOString(); // a zone this browser does not know: the API's UTC time
  }
}

/** How far ahead: "in 4 s", "in 12 min", "in 3 h", "in 2 days"; "now" once it is due. */
export function formatIn(iso: string | undefined, now: number): string {
  if (!iso) return '—';
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return iso;
  if (ms <= 500) return 'now';
  if (ms < 60_000) return `in ${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `in ${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86_400_000) return `in ${Math.round(ms / 3_600_000)} h`;
  return `in ${Math.round(ms / 86_400_000)} days`;
}

/** The browser's own timezone: the form's default (a person writing "30 2 * * *" means their 02:30). */
export function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Every IANA zone this browser knows, UTC first (Chromium's list leaves it out). */
export function knownTimezones(): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    // an older browser: the field still takes any name, the API judges it
  }
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}

/**
 * When to read the schedules again so their next fires stay true: just after the earliest of
 * them has passed, but not sooner than `min` (a fire makes a job, and the jobs feed tells us of it
 * anyway) nor later than `max`.
 */
export function refreshDelay(nextFires: readonly (string | undefined)[], now: number, min = 5_000, max = 30_000): number {
  const times = nextFires.filter((t): t is string => t !== undefined).map((t) => Date.parse(t) - now + 1_000);
  const earliest = times.length > 0 ? Math.min(...times) : max;
  return Math.min(max, Math.max(min, earliest));
}

export const OVERLAP_TEXT = {
  skip: 'skip the tick (default)',
  queue: 'queue: fire anyway',
  cancel_previous: 'cancel the previous one, then fire',
} as const;

export const CATCH_UP_TEXT = {
  none: 'none: skip them (default)',
  latest: 'latest: fire once for the most recent',
} as const;

/**
 * The form field an API error is about: its `details.field` (`cron`, `timezone`, `name`,
 * `job.target`…), else the word before the message's first colon ("cron: has 3 fields…").
 */
export function errorField(err: unknown): string | undefined {
  const field = (err as { details?: { field?: unknown } } | null)?.details?.field;
  if (typeof field === 'string') return field;
  const message = err instanceof Error ? err.message : '';
  return /^([A-Za-z][\w.]*):/.exec(message)?.[1];
}
