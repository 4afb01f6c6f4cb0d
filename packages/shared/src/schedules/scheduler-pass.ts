import type { ControlPlane } from '../control-plane/control-plane.ts';
import { scheduleMissedAfterMs } from '../domain/timings.ts';
import { claimDueTicks } from './claim-ticks.ts';
import { completeFire, finishAbandonedFires, type CompleteOptions } from './complete-fire.ts';
import type { FireKey } from './schedule-queries.ts';

/** Schedules whose fires one pass creates at once. */
const COMPLETION_LANES = 4;

export interface SchedulerPassOptions extends CompleteOptions {
  /** How often the caller runs a pass: a tick first seen more than 5 of these after its time was missed. */
  loopMs: number;
}

/**
 * One pass of the scheduler, as every worker runs it every SCHEDULER_LOOP_MS (services/worker):
 * claim the due ticks, create the job or run of each fire claimed (in tick order), then finish
 * fires another worker left pending. Any number of workers may run it at once: the fires'
 * primary key decides who fires a tick (claim-ticks.ts). Everything it needs is in Postgres:
 * a Redis outage delays nothing here (a job it cannot enqueue is enqueued by the reconciler).
 */
export async function runSchedulerPass(cp: ControlPlane, opts: SchedulerPassOptions): Promise<{ claimed: number; finished: number }> {
  const claimed = await claimDueTicks(cp, { missedAfterMs: scheduleMissedAfterMs(opts.loopMs) });
  // In tick order within a schedule; schedules side by side (a few at once), so one slow
  // submission (a run over thousands of targets) does not hold every other schedule's fire up.
  const bySchedule = new Map<string, FireKey[]>();
  for (const fire of claimed) bySchedule.set(fire.scheduleId, [...(bySchedule.get(fire.scheduleId) ?? []), fire]);
  const queue = [...bySchedule.values()];
  const lane = async () => {
    for (let fires = queue.shift(); fires; fires = queue.shift()) {
      for (const fire of fires) {
        try {
          await completeFire(cp, fire, opts);
        } catch (err) {
          // Left pending: the sweep below (here or in another worker) finishes it once the store answers.
          cp.log.warn({ err: (err as Error).message, scheduleId: fire.scheduleId, tick: fire.at.toISOString() }, 'schedule fire not finished; it will be taken over');
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(COMPLETION_LANES, queue.length) }, lane));
  const finished = await finishAbandonedFires(cp, opts);
  return { claimed: claimed.length, finished };
}
