import type { FireKind, FireOutcome, ScheduleCatchUp, ScheduleOverlap } from '../domain/schedule.ts';
import { scheduleClock } from './cron.ts';
import type { ScheduledJobInput, ScheduledRunInput } from './schedule-input.ts';

/** How many ticks ahead GET shows, and how many fires back. */
export const NEXT_FIRES_SHOWN = 5;
export const LAST_FIRES_SHOWN = 10;

/** A `schedules` row as the driver returns it. */
export interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  job: ScheduledJobInput | null;
  run: ScheduledRunInput | null;
  overlap: ScheduleOverlap;
  catch_up: ScheduleCatchUp;
  paused: boolean;
  owner_id: string | null;
  created_by: string | null;
  next_tick_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A `schedule_fires` row with its job's or run's status (a left join). */
export interface FireRow {
  schedule_id: string;
  kind: FireKind;
  at: Date;
  outcome: FireOutcome;
  reason_code: string | null;
  reason_message: string | null;
  job_id: string | null;
  run_id: string | null;
  fired_at: Date | null;
  status: string | null;
}

export interface FireView {
  at: string;
  kind: FireKind;
  outcome: FireOutcome;
  reason: { code: string; message: string } | null;
  jobId: string | null;
  runId: string | null;
  /** The job's or run's status now; null when it has none (or retention deleted it). */
  status: string | null;
  firedAt: string | null;
}

export interface ScheduleView {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  job: ScheduledJobInput | null;
  run: ScheduledRunInput | null;
  overlap: ScheduleOverlap;
  catchUp: ScheduleCatchUp;
  paused: boolean;
  ownerId: string | null;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  nextFires: string[];
  lastFires: FireView[];
}

export function fireView(f: FireRow): FireView {
  return {
    at: f.at.toISOString(),
    kind: f.kind,
    outcome: f.outcome,
    reason: f.reason_code === null ? null : { code: f.reason_code, message: f.reason_message ?? '' },
    jobId: f.job_id,
    runId: f.run_id,
    status: f.status,
    firedAt: f.fired_at?.toISOString() ?? null,
  };
}

/** The ticks to come after `now`: none while paused, nor for an expression with no tick left. */
export function nextFires(row: Pick<ScheduleRow, 'cron' | 'timezone' | 'paused' | 'next_tick_at'>, now: Date, n = NEXT_FIRES_SHOWN): string[] {
  if (row.paused || row.next_tick_at === null) return [];
  let clock;
  try {
    clock = scheduleClock(row.cron, row.timezone);
  } catch {
    return []; // stored before a rule changed: the scheduler does not fire it either
  }
  return clock.nextTicks(n, now).map((d) => d.toISOString());
}

/** A schedule in a listing: its last fire only. */
export type ScheduleListItem = Omit<ScheduleView, 'lastFires'> & { lastFire: FireView | null };

export function scheduleListItem(row: ScheduleRow, last: FireRow | undefined, now: Date): ScheduleListItem {
  const { lastFires: _none, ...rest } = scheduleView(row, [], now);
  return { ...rest, lastFire: last ? fireView(last) : null };
}

export function scheduleView(row: ScheduleRow, fires: readonly FireRow[], now: Date): ScheduleView {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    job: row.job,
    run: row.run,
    overlap: row.overlap,
    catchUp: row.catch_up,
    paused: row.paused,
    ownerId: row.owner_id,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    nextFires: nextFires(row, now),
    lastFires: fires.map(fireView),
  };
}
