import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { z } from 'zod';
import { AppError } from '../errors/app-error.ts';
import { validationError } from '../errors/zod-error.ts';
import type { Idempotency } from '../jobs/idempotency.ts';
import { stopJob } from '../jobs/stop-job.ts';
import { cancelRun } from '../runs/cancel-run.ts';
import { submitAsOwner, type ScheduledBody } from './as-submission.ts';
import { fireIdempotency } from './fire-key.ts';
import { fireReason, type FireReason } from './fire-reason.ts';
import { ScheduledJobInput, ScheduledRunInput } from './schedule-input.ts';
import { scheduleOwner } from './schedule-owner.ts';
import { getScheduleRow, type FireKey } from './schedule-queries.ts';
import type { ScheduleRow } from './schedule-view.ts';
import { toDate, ts } from './timestamp.ts';

export type Created = { jobId: string } | { runId: string };

export interface CompleteOptions {
  /** VMO_MAX_RUN_TARGETS. */
  maxTargets: number;
}

/** A `pending` fire left this long by the worker that claimed it is finished by another. */
export const ABANDONED_FIRE_MS = 30_000;
/** A fire still `pending` this long after it was claimed first is given up (`failed`), not fired hours late. */
export const GIVE_UP_FIRE_MS = 3_600_000;

/** The job or run a fire's key already made (by this fire's first worker), if any. */
export async function createdUnderKey(sql: postgres.Sql, idem: Idempotency): Promise<Created | undefined> {
  const [row] = await sql<{ job_id: string }[]>`select job_id from idempotency_keys where principal = ${idem.principal} and key = ${idem.key}`;
  if (!row) return undefined;
  // One column holds either (runs/insert-run.ts claims keys with the run's id).
  return row.job_id.startsWith('run_') ? { runId: row.job_id } : { jobId: row.job_id };
}

/** The outcome of a `pending` fire, written once: only a fire still `pending` is changed. */

async function recordFire(sql: postgres.Sql, key: FireKey, outcome: { created: Created } | { failed: FireReason }): Promise<boolean> {
  const fired = 'created' in outcome;
  const jobId = fired && 'jobId' in outcome.created ? outcome.created.jobId : null;
  const runId = fired && 'runId' in outcome.created ? outcome.created.runId : null;
  const rows = await sql`
    update schedule_fires set
      outcome = ${fired ? 'fired' : 'failed'},
      job_id = ${jobId}, run_id = ${runId},
      fired_at = ${fired ? sql`clock_timestamp()` : null},
      reason_code = ${fired ? sql`reason_code` : (outcome as { failed: FireReason }).failed.code},
      reason_message = ${fired ? sql`reason_message` : (outcome as { failed: FireReason }).failed.message},
      settled = ${!fired}
    where schedule_id = ${key.scheduleId} and kind = ${key.kind} and at = ${ts(key.at)}::timestamptz and outcome = 'pending'
    returning 1`;
  return rows.length === 1;
}

/** The stored body, read again through today's schema (a stored body the rules no longer take fails its fire). */
function storedBody(row: ScheduleRow): ScheduledBody {
  if (row.job) return { job: ScheduledJobInput.parse(row.job) };
  return { run: ScheduledRunInput.parse(row.run) };
}

/**
 * Create the job or run of a fire this worker claimed (or took over), AS the schedule's owner, and
 * record it. Safe to run twice for the same fire, at once or one after the other: the job is keyed
 * by the fire (fire-key.ts), the record only changes a `pending` fire.
 *
 * A refusal (the owner lost the right to run there, a target is gone, the owner was disabled) is
 * the fire's outcome, `failed` with the refusal's code and message. A store outage is not: the
 * fire stays `pending`, and the sweep finishes it (finishAbandonedFires).
 */
export async function completeFire(cp: ControlPlane, key: FireKey, opts: CompleteOptions): Promise<Created | AppError | undefined> {
  const sql = cp.database.sql;
  const schedule = await getScheduleRow(sql, key.scheduleId);
  if (!schedule) return undefined; // deleted: its fires went with it
  const idem = fireIdempotency(key);
  const before = await createdUnderKey(sql, idem);
  if (before) {
    await recordFire(sql, key, { created: before });
    return before;
  }
  try {
    if (schedule.overlap === 'cancel_previous' && key.kind === 'tick') await cancelPrevious(cp, key);
    const owner = await scheduleOwner(cp, schedule.owner_id, schedule.created_by);
    const created = await submitAsOwner(cp, storedBody(schedule), owner, idem, opts.maxTargets);
    await recordFire(sql, key, { created });
    return created;
  } catch (err) {
    const refusal = asRefusal(err);
    if (!refusal) throw err;
    // A twin that got further (it submitted before the owner's right went) made the job: that is the outcome.
    const twin = await createdUnderKey(sql, idem);
    await recordFire(sql, key, twin ? { created: twin } : { failed: refusal });
    return twin ?? refusal;
  }
}

/** A 4xx is the fire's answer; anything else (an outage, a bug) leaves it pending for another try. */
function asRefusal(err: unknown): AppError | undefined {
  if (err instanceof AppError && err.status < 500) return err;
  if (err instanceof z.ZodError) return validationError(err, 'the stored body');
  return undefined;
}

/**
 * overlap `cancel_previous`: cancel every job and run of this schedule that has not ended, as
 * POST /v1/jobs/{id}/cancel and POST /v1/runs/{id}/cancel would (SIGTERM, SIGKILL after the
 * default grace). One that ends meanwhile is no error. The new job does not wait for them to end.
 */
async function cancelPrevious(cp: ControlPlane, key: FireKey): Promise<void> {
  const open = await cp.database.sql<{ job_id: string | null; run_id: string | null }[]>`
    select job_id, run_id from schedule_fires
    where schedule_id = ${key.scheduleId} and not settled and not (kind = ${key.kind} and at = ${ts(key.at)}::timestamptz)
      and (job_id is not null or run_id is not null)`;
  const ended = (err: unknown) => {
    if (err instanceof AppError && (err.code === 'job_ended' || err.code === 'run_ended' || err.code === 'not_found')) return;
    throw err;
  };
  for (const f of open) {
    if (f.job_id) await stopJob(cp, f.job_id, 'canceled').catch(ended);
    if (f.run_id) await cancelRun(cp, f.run_id).catch(ended);
  }
}

/**
 * The sweep for fires whose worker died between claiming a tick and recording its job: each
 * `pending` fire claimed more than ABANDONED_FIRE_MS ago is taken over (its claim renewed, so one
 * worker at a time) and completed as its first worker would have; past GIVE_UP_FIRE_MS it fails
 * instead (unless its job was made: then that is recorded).
 */
export async function finishAbandonedFires(cp: ControlPlane, opts: CompleteOptions & { abandonedMs?: number; giveUpMs?: number; limit?: number }): Promise<number> {
  const sql = cp.database.sql;
  const abandonedMs = opts.abandonedMs ?? ABANDONED_FIRE_MS;
  const taken = await sql<{ schedule_id: string; kind: 'tick' | 'trigger'; at: string; stale: boolean }[]>`
    update schedule_fires f set claimed_at = clock_timestamp()
    from (
      select schedule_id, kind, at, claimed_at from schedule_fires
      where outcome = 'pending' and claimed_at < clock_timestamp() - ${abandonedMs} * interval '1 millisecond'
      order by claimed_at
      limit ${opts.limit ?? 20}
      for update skip locked
    ) old
    where f.schedule_id = old.schedule_id and f.kind = old.kind and f.at = old.at
    returning f.schedule_id, f.kind, f.at, (f.at < clock_timestamp() - ${opts.giveUpMs ?? GIVE_UP_FIRE_MS} * interval '1 millisecond') as stale`;
  for (const f of taken) {
    const key: FireKey = { scheduleId: f.schedule_id, kind: f.kind, at: toDate(f.at) };
    cp.log.warn({ scheduleId: key.scheduleId, tick: key.at.toISOString(), kind: key.kind }, 'finishing a schedule fire its worker left pending');
    if (f.stale) {
      const made = await createdUnderKey(sql, fireIdempotency(key));
      await recordFire(sql, key, made ? { created: made } : { failed: fireReason('fire_abandoned', 'not fired: no worker could create its job or run within an hour of its tick') });
      continue;
    }
    await completeFire(cp, key, opts).catch((err: unknown) => cp.log.warn({ err: (err as Error).message, scheduleId: key.scheduleId }, 'schedule fire still not finished; trying again later'));
  }
  return taken.length;
}
