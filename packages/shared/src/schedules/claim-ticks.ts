import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { isTerminal, type JobStatus } from '../domain/job-status.ts';
import { isTerminalRun, type RunStatus } from '../domain/run-status.ts';
import type { ScheduleCatchUp, ScheduleOverlap } from '../domain/schedule.ts';
import { scheduleClock } from './cron.ts';
import { fireReason } from './fire-reason.ts';
import { planTicks } from './plan-ticks.ts';
import type { FireKey } from './schedule-queries.ts';
import { toDate, ts } from './timestamp.ts';

/** Schedules one pass takes at most; the rest are the next pass's (oldest tick first). */
export const SCHEDULES_PER_PASS = 100;

interface DueRow {
  id: string;
  cron: string;
  timezone: string;
  overlap: ScheduleOverlap;
  catch_up: ScheduleCatchUp;
  next_tick_at: Date;
}

/**
 * Claim every due tick of the due schedules, in ONE short transaction, on the database's clock:
 * for each schedule (locked `for update skip locked`: another worker's pass takes the others),
 * plan its ticks (plan-ticks.ts), decide each one's fate (fire, or skip for overlap), write a
 * `schedule_fires` row per tick, and move `next_tick_at` past them. Returns the fires to create
 * jobs for, `pending`; the caller creates them after the commit (completeFire).
 *
 * LOUD: exactly once per tick rests on the INSERT of the tick's row, primary key (schedule_id,
 * kind, at), `on conflict do nothing`: only the transaction whose INSERT succeeded gets the fire
 * back, whatever the number of workers and however `next_tick_at` got where it is (a PATCH that
 * moved it back, a restored backup). The row lock and `next_tick_at` only keep workers from
 * trying the same ticks at once; they are not what guarantees it.
 *
 * LOUD: the job is NOT created in this transaction (the submission functions have their own), so
 * a worker can die between this commit and the job: the fire is then `pending` with no job, and
 * another worker's sweep (finishAbandonedFires) creates it, under the fire's Idempotency-Key
 * (fire-key.ts), which is claimed in the job's own insert transaction: if the first worker did
 * insert the job before dying, the sweep gets that job back instead of making a second one.
 * Either way: one job per tick, and no tick left without its job or its recorded reason.
 */
export async function claimDueTicks(cp: ControlPlane, opts: { missedAfterMs: number; limit?: number }): Promise<FireKey[]> {
  return cp.database.sql.begin(async (tx) => {
    const now = toDate((await tx<{ now: string }[]>`select clock_timestamp() as now`)[0]!.now);
    const due = await tx<(Omit<DueRow, 'next_tick_at'> & { next_tick_at: string })[]>`
      select id, cron, timezone, overlap, catch_up, next_tick_at from schedules
      where not paused and next_tick_at <= ${ts(now)}::timestamptz
      order by next_tick_at
      limit ${opts.limit ?? SCHEDULES_PER_PASS}
      for update skip locked`;
    const claimed: FireKey[] = [];
    for (const s of due) claimed.push(...(await claimSchedule(tx, cp, { ...s, next_tick_at: toDate(s.next_tick_at) }, now, opts.missedAfterMs)));
    return claimed;
  });
}

async function claimSchedule(tx: postgres.TransactionSql, cp: ControlPlane, s: DueRow, now: Date, missedAfterMs: number): Promise<FireKey[]> {
  let clock;
  try {
    clock = scheduleClock(s.cron, s.timezone);
  } catch (err) {
    // Accepted once, refused now (a library's rule changed): it cannot tick; say so once and stop looking.
    cp.log.error({ scheduleId: s.id, err: (err as Error).message }, 'schedule expression no longer parses: it will not fire until it is changed');
    await tx`update schedules set next_tick_at = null where id = ${s.id}`;
    return [];
  }
  const plan = planTicks(clock, { nextTickAt: s.next_tick_at, catchUp: s.catch_up }, now, missedAfterMs);
  // Looked at whatever the policy (it also settles what has ended, which cancel_previous reads); only `skip` acts on it here.
  const going = plan.fire.length > 0 ? await openWork(tx, s.id) : undefined;
  let open = s.overlap === 'skip' ? going : undefined;
  const claimed: FireKey[] = [];
  for (const f of plan.fire) {
    const skip = open !== undefined;
    const reason = skip
      ? fireReason('overlap', `skipped: ${open} has not ended (overlap: skip)`)
      : f.caughtUp
        ? fireReason('caught_up', `fired late: ${f.caughtUp.more ? 'more than ' : ''}${f.caughtUp.missed} tick(s) were missed while no scheduler ran, and catchUp: latest fires the most recent`)
        : null;
    const [row] = await tx`
      insert into schedule_fires (schedule_id, kind, at, outcome, reason_code, reason_message, settled)
      values (${s.id}, 'tick', ${ts(f.at)}::timestamptz, ${skip ? 'skipped' : 'pending'}, ${reason?.code ?? null}, ${reason?.message ?? null}, ${skip})
      on conflict do nothing
      returning at`;
    if (!row || skip) continue;
    claimed.push({ scheduleId: s.id, kind: 'tick', at: f.at });
    // The tick after it overlaps this one (its job is not even made yet).
    if (s.overlap === 'skip') open = `the job of the tick at ${f.at.toISOString()}`;
  }
  if (plan.skippedMissed) {
    const m = plan.skippedMissed;
    await tx`
      insert into schedule_fires (schedule_id, kind, at, outcome, reason_code, reason_message, settled)
      values (${s.id}, 'tick', ${ts(m.latest)}::timestamptz, 'skipped', 'missed',
              ${`skipped: ${m.more ? 'more than ' : ''}${m.count} tick(s) up to this one were missed while no scheduler ran (catchUp: none)`}, true)
      on conflict do nothing`;
  }
  await tx`update schedules set next_tick_at = ${ts(plan.nextTickAt)}::timestamptz where id = ${s.id}`;
  return claimed;
}

/**
 * What of this schedule may still be going, described for the skip's reason, or undefined. Reads
 * only the fires not settled (schedule_fires_open_idx) and settles those whose job or run has
 * ended, so the next look reads fewer. A fire still `pending` counts as going: its job is on its way.
 */
async function openWork(tx: postgres.TransactionSql, scheduleId: string): Promise<string | undefined> {
  const rows = await tx<{ kind: string; at: string; outcome: string; job_id: string | null; run_id: string | null; job_status: JobStatus | null; run_status: RunStatus | null }[]>`
    select f.kind, f.at, f.outcome, f.job_id, f.run_id,
           (select j.status from jobs j where j.id = f.job_id) as job_status,
           (select r.status from runs r where r.id = f.run_id) as run_status
    from schedule_fires f
    where f.schedule_id = ${scheduleId} and not f.settled`;
  let open: string | undefined;
  const ended: { kind: string; at: Date }[] = [];
  for (const r of rows) {
    const going =
      r.outcome === 'pending' ||
      (r.outcome === 'fired' && ((r.job_id !== null && r.job_status !== null && !isTerminal(r.job_status)) || (r.run_id !== null && r.run_status !== null && !isTerminalRun(r.run_status))));
    if (!going) ended.push({ kind: r.kind, at: toDate(r.at) });
    else if (!open) open = r.job_id ? `job ${r.job_id}` : r.run_id ? `run ${r.run_id}` : `the job of the tick at ${toDate(r.at).toISOString()}`;
  }
  if (ended.length > 0) {
    await tx`
      update schedule_fires f set settled = true
      from unnest(${ended.map((e) => e.kind)}::text[], ${ended.map((e) => e.at.toISOString())}::text[]::timestamptz[]) as e(kind, at)
      where f.schedule_id = ${scheduleId} and f.kind = e.kind and f.at = e.at`;
  }
  return open;
}
