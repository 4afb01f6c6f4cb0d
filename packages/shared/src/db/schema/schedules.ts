import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { FireKind, FireOutcome, ScheduleCatchUp, ScheduleOverlap } from '../../domain/schedule.ts';

/**
 * Cron schedules (issue 14). Exactly one of `job` and `run` is set: the body a tick submits, as
 * POST /v1/jobs or POST /v1/runs would take it (validated, defaults applied). A tick submits it
 * AS the owner, through the same functions and checks as a direct submission.
 */
export const schedules = pgTable(
  'schedules',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** Five fields, or six with seconds first (croner). */
    cron: text('cron').notNull(),
    /** IANA name; the cron fields are read in this zone (DST included). */
    timezone: text('timezone').notNull().default('UTC'),
    job: jsonb('job').$type<Record<string, unknown>>(),
    run: jsonb('run').$type<Record<string, unknown>>(),
    overlap: text('overlap').$type<ScheduleOverlap>().notNull().default('skip'),
    catchUp: text('catch_up').$type<ScheduleCatchUp>().notNull().default('none'),
    paused: boolean('paused').notNull().default(false),
    /** The user it fires as (users.id); null: the bootstrap admin. */
    ownerId: text('owner_id'),
    createdBy: text('created_by'),
    /**
     * The first tick not yet handled: the scheduler loop handles every tick up to now and moves it
     * past now, under the row's lock. Null: the expression has no tick to come.
     */
    nextTickAt: timestamp('next_tick_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    // A name means one schedule to its owner (POST answers 409 schedule_exists); owners apart may share one.
    uniqueIndex('schedules_owner_name_idx').on(sql`coalesce(${t.ownerId}, '')`, t.name),
    // The scheduler loop, every second in every worker: the due schedules, oldest tick first.
    index('schedules_due_idx').on(t.nextTickAt).where(sql`not ${t.paused}`),
    // GET /v1/schedules: newest first, keyset on (created_at, id); a non-admin's own.
    index('schedules_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('schedules_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()),
  ],
);

/**
 * One row per tick handled (and per trigger). LOUD: the primary key (schedule_id, kind, at) is
 * what makes a tick fire at most once, whatever the number of workers and restarts: the worker
 * whose INSERT of the tick's row succeeds is the only one that creates its job or run.
 */
export const scheduleFires = pgTable(
  'schedule_fires',
  {
    scheduleId: text('schedule_id')
      .notNull()
      .references(() => schedules.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<FireKind>().notNull(),
    /** The tick's time (a whole second of the expression); for a trigger, when it was asked. */
    at: timestamp('at', { withTimezone: true }).notNull(),
    outcome: text('outcome').$type<FireOutcome>().notNull(),
    /** Why it was skipped or failed (`overlap`, `missed`, `target_forbidden`, `owner_cannot_run`, …). */
    reasonCode: text('reason_code'),
    reasonMessage: text('reason_message'),
    /**
     * The job or run it created. No foreign key on purpose: retention deletes old jobs and runs in
     * batches and must not touch (nor scan) this table to do it; a fire whose job is gone shows no status.
     */
    jobId: text('job_id'),
    runId: text('run_id'),
    /** When the job or run was recorded (outcome `fired`). */
    firedAt: timestamp('fired_at', { withTimezone: true }),
    /** When a worker took it on: a `pending` fire claimed long ago is finished by another worker (the one that claimed it died). */
    claimedAt: timestamp('claimed_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    /**
     * True once its job or run is known to have ended (or it never had one): the overlap check
     * looks only at the fires not settled, so it reads a handful of rows however long the history.
     */
    settled: boolean('settled').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.scheduleId, t.kind, t.at] }),
    // GET /v1/schedules/{id}: the last fires, newest first.
    index('schedule_fires_recent_idx').on(t.scheduleId, t.at.desc()),
    // The overlap check at each tick: the fires whose job or run may still be going.
    index('schedule_fires_open_idx').on(t.scheduleId).where(sql`not ${t.settled}`),
    // The repair sweep: fires a worker claimed and did not finish.
    index('schedule_fires_pending_idx').on(t.claimedAt).where(sql`${t.outcome} = 'pending'`),
    // Retention (retention/prune-schedule-fires.ts): settled fires oldest first.
    index('schedule_fires_settled_at_idx').on(t.at).where(sql`${t.settled}`),
  ],
);
