import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { newId } from '../domain/ids.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import { checkAsSubmission, type ScheduledBody } from './as-submission.ts';
import { scheduleClock } from './cron.ts';
import type { CreateScheduleInput, UpdateScheduleInput } from './schedule-input.ts';
import { scheduleOwner, type ScheduleOwner } from './schedule-owner.ts';
import { getScheduleRow, lastFireOf, recentFires, scheduleRowFrom } from './schedule-queries.ts';
import { scheduleListItem, scheduleView, type ScheduleListItem, type ScheduleView } from './schedule-view.ts';
import { toDate, ts } from './timestamp.ts';

export interface ScheduleOptions {
  /** VMO_MAX_RUN_TARGETS, for a scheduled run's targets. */
  maxTargets: number;
}

/** The database's clock: ticks are computed on it everywhere (API nodes and workers may disagree). */
async function dbNow(cp: ControlPlane): Promise<Date> {
  const [row] = await cp.database.sql<{ now: string }[]>`select clock_timestamp() as now`;
  return toDate(row!.now);
}

const bodyOf = (s: { job?: ScheduledBody['job'] | null; run?: ScheduledBody['run'] | null }): ScheduledBody => (s.job ? { job: s.job } : { run: s.run! });

const nameTaken = (name: string) =>
  new AppError(409, 'schedule_exists', `name: you already have a schedule named ${JSON.stringify(name)}; choose another name, or change that one with PATCH`, { field: 'name' });

/**
 * POST /v1/schedules. `owner` is the caller: the schedule fires as them. Refused before anything
 * is written when its expression or zone is invalid (400 naming `cron` / `timezone`) or when the
 * body, submitted by them now, would be refused (the same 4xx as POST /v1/jobs or /v1/runs, its
 * field under `job.` or `run.`). The first tick is the first one after now.
 */
export async function createSchedule(cp: ControlPlane, input: CreateScheduleInput, owner: ScheduleOwner, opts: ScheduleOptions): Promise<ScheduleView> {
  const clock = scheduleClock(input.cron, input.timezone);
  const body = bodyOf(input);
  await checkAsSubmission(cp, body, owner, opts.maxTargets);
  const now = await dbNow(cp);
  const sql = cp.database.sql;
  try {
    const [row] = await sql`
      insert into schedules (id, name, cron, timezone, job, run, overlap, catch_up, paused, owner_id, created_by, next_tick_at)
      values (${newId('sch')}, ${input.name}, ${input.cron.trim()}, ${input.timezone}, ${body.job ? JSON.stringify(body.job) : null}::jsonb, ${body.run ? JSON.stringify(body.run) : null}::jsonb,
              ${input.overlap}, ${input.catchUp}, ${input.paused}, ${owner.userId}, ${owner.name}, ${ts(clock.nextAfter(now))}::timestamptz)
      returning *`;
    return scheduleView(scheduleRowFrom(row!), [], now);
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(input.name);
    throw err;
  }
}

/** GET /v1/schedules/{id} (the caller may see it: the route checked). */
export async function getSchedule(cp: ControlPlane, id: string): Promise<ScheduleView> {
  const sql = cp.database.sql;
  const row = await getScheduleRow(sql, id);
  if (!row) throw notFound('schedule', id);
  const [fires, now] = await Promise.all([recentFires(sql, id), dbNow(cp)]);
  return scheduleView(row, fires, now);
}

/**
 * GET /v1/schedules: newest first, keyset on (created_at, id); `ownerId` (a non-admin) their own
 * only. A cursor that is no schedule (of theirs) is a 400 naming it.
 */
export async function listSchedules(cp: ControlPlane, q: { limit: number; cursor?: string | undefined; ownerId?: string | null | undefined }): Promise<{ items: ScheduleListItem[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const mine = (alias: string) => (q.ownerId === undefined ? sql`` : sql`and ${sql(alias)}.owner_id is not distinct from ${q.ownerId}`);
  if (q.cursor !== undefined) {
    const [at] = await sql`select 1 from schedules c where c.id = ${q.cursor} ${mine('c')}`;
    if (!at) throw badRequest('validation_failed', `cursor: ${q.cursor} is not a schedule; pass the nextCursor of a previous page`, { field: 'cursor' });
  }
  const raw = await sql`
    select * from schedules s
    where true ${mine('s')}
      ${q.cursor ? sql`and (s.created_at, s.id) < (select c.created_at, c.id from schedules c where c.id = ${q.cursor})` : sql``}
    order by s.created_at desc nulls last, s.id desc nulls last
    limit ${q.limit + 1}`;
  const rows = raw.map(scheduleRowFrom);
  const page = rows.slice(0, q.limit);
  const [last, now] = await Promise.all([lastFireOf(sql, page.map((r) => r.id)), dbNow(cp)]);
  return { items: page.map((r) => scheduleListItem(r, last.get(r.id), now)), nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

/**
 * PATCH /v1/schedules/{id}: any field; `job` replaces a run and `run` a job. A new body is judged
 * as a submission by the schedule's OWNER (who it will fire as, whoever edits it). A new
 * expression or zone, or a resume (`paused: false` on a paused schedule), starts from the first
 * tick after now: the ticks of a pause are not missed ones, they are not fired later.
 */
export async function updateSchedule(cp: ControlPlane, id: string, patch: UpdateScheduleInput, opts: ScheduleOptions): Promise<ScheduleView> {
  const sql = cp.database.sql;
  const before = await getScheduleRow(sql, id);
  if (!before) throw notFound('schedule', id);
  const cron = patch.cron ?? before.cron;
  const timezone = patch.timezone ?? before.timezone;
  const clock = scheduleClock(cron, timezone);
  if (patch.job !== undefined || patch.run !== undefined) {
    const owner = await scheduleOwner(cp, before.owner_id, before.created_by);
    await checkAsSubmission(cp, bodyOf(patch), owner, opts.maxTargets);
  }
  try {
    return await sql.begin(async (tx) => {
      // Under the row's lock: a scheduler pass holding it finishes first, and none starts meanwhile.
      const [raw] = await tx`select * from schedules where id = ${id} for update`;
      if (!raw) throw notFound('schedule', id);
      const row = scheduleRowFrom(raw);
      const now = toDate((await tx<{ now: string }[]>`select clock_timestamp() as now`)[0]!.now);
      const paused = patch.paused ?? row.paused;
      const restart = cron !== row.cron || timezone !== row.timezone || (row.paused && !paused);
      const job = patch.job !== undefined ? patch.job : patch.run !== undefined ? null : row.job;
      const run = patch.run !== undefined ? patch.run : patch.job !== undefined ? null : row.run;
      const [updated] = await tx`
        update schedules set
          name = ${patch.name ?? row.name}, cron = ${cron.trim()}, timezone = ${timezone},
          job = ${job ? JSON.stringify(job) : null}::jsonb, run = ${run ? JSON.stringify(run) : null}::jsonb,
          overlap = ${patch.overlap ?? row.overlap}, catch_up = ${patch.catchUp ?? row.catch_up}, paused = ${paused},
          next_tick_at = ${ts(restart ? clock.nextAfter(now) : row.next_tick_at)}::timestamptz, updated_at = ${ts(now)}::timestamptz
        where id = ${id}
        returning *`;
      return scheduleView(scheduleRowFrom(updated!), await recentFires(tx, id), now);
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(patch.name ?? before.name);
    throw err;
  }
}

/** DELETE /v1/schedules/{id}: no tick fires from now on; its fires go with it. Jobs and runs it created are left as they are. */
export async function deleteSchedule(cp: ControlPlane, id: string): Promise<void> {
  const [row] = await cp.database.sql`delete from schedules where id = ${id} returning id`;
  if (!row) throw notFound('schedule', id);
}
