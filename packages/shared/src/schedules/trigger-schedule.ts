import type { ControlPlane } from '../control-plane/control-plane.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { completeFire, type CompleteOptions } from './complete-fire.ts';
import { getFire, getScheduleRow, type FireKey } from './schedule-queries.ts';
import { scheduleOwner } from './schedule-owner.ts';
import { fireView, type FireView } from './schedule-view.ts';
import { toDate, ts } from './timestamp.ts';

/**
 * POST /v1/schedules/{id}/trigger: fire the schedule now, as its owner, as a tick would, but it is
 * not a tick: the next tick still fires when it comes, the overlap policy is not applied (the
 * caller asked for this run), and a paused schedule may be triggered too. The fire is recorded
 * (kind `trigger`) with its job or run.
 *
 * A refusal (the owner may not run there now, a target is gone) is the caller's answer, with its
 * own status and code, and nothing is recorded: unlike a tick, someone is there to be told.
 */
export async function triggerSchedule(cp: ControlPlane, id: string, opts: CompleteOptions): Promise<FireView> {
  const sql = cp.database.sql;
  const schedule = await getScheduleRow(sql, id);
  if (!schedule) throw notFound('schedule', id);
  await scheduleOwner(cp, schedule.owner_id, schedule.created_by); // 422 owner_cannot_run before anything is written
  // Milliseconds: the key is read back into a JS Date (a microsecond would be lost and the row not
  // found again). Two triggers in the same millisecond: the second takes the next one.
  let at: Date | undefined;
  for (let attempt = 0; at === undefined && attempt < 5; attempt++) {
    const [row] = await sql<{ at: string }[]>`
      insert into schedule_fires (schedule_id, kind, at, outcome)
      values (${id}, 'trigger', date_trunc('milliseconds', clock_timestamp()), 'pending')
      on conflict do nothing
      returning at`;
    at = row ? toDate(row.at) : undefined;
    if (at === undefined) await new Promise((r) => setTimeout(r, 2));
  }
  if (at === undefined) throw new AppError(503, 'unavailable', 'triggers of this schedule keep arriving in the same millisecond; try again');
  const key: FireKey = { scheduleId: id, kind: 'trigger', at };
  const outcome = await completeFire(cp, key, opts);
  if (outcome instanceof AppError) {
    await sql`delete from schedule_fires where schedule_id = ${id} and kind = 'trigger' and at = ${ts(key.at)}::timestamptz and outcome = 'failed'`;
    throw outcome;
  }
  const fire = await getFire(sql, key);
  if (!fire) throw notFound('schedule', id); // deleted meanwhile
  return fireView(fire);
}
