import type { ControlPlane } from '../control-plane/control-plane.ts';
import { requestRollUp } from './roll-up.ts';

/** Runs looked at per pass; more due at once are taken on the next passes. */
const DUE_RUNS_PER_PASS = 100;

/**
 * Roll up the runs whose `runAt` has just come: `queued`, not canceled, runAt past (Postgres'
 * clock), and not one child released yet. The roll-up then releases the first children as the
 * run's strategy allows (runs/decide-roll-up.ts holds every child before runAt); from there on
 * the run goes as any other. Called by every worker with the jobs' release
 * (jobs/run-at/release-due-jobs.ts), every RELEASE_DUE_EVERY_MS; the roll-up sweep over active
 * runs is the backstop. Two workers rolling up one run take turns on its row lock: the second
 * releases nothing more. Returns how many runs were rolled up.
 *
 * LOUD: a run waiting for its runAt is only in Postgres (its children are held, none in the
 * queue), so a Redis loss cannot lose it.
 */
export async function releaseDueRuns(cp: ControlPlane): Promise<number> {
  const sql = cp.database.sql;
  const due = await sql<{ id: string }[]>`
    select r.id from runs r
    where r.status = 'queued' and r.run_at <= clock_timestamp() and r.cancel_requested_at is null
      and not exists (select 1 from jobs j where j.run_id = r.id and j.released_at is not null)
    order by r.run_at
    limit ${DUE_RUNS_PER_PASS}`;
  for (const { id } of due) await requestRollUp(cp, id);
  return due.length;
}
