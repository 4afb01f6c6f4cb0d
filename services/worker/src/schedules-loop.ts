import { repeatInBackground, type BackgroundLoop } from '@vmo/shared/background';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { SCHEDULER_LOOP_MS } from '@vmo/shared/domain';
import { runSchedulerPass } from '@vmo/shared/schedules';

/**
 * The scheduler (issue 14): every worker runs this loop, every SCHEDULER_LOOP_MS. There is no
 * leader to elect and no lock that can expire: each pass claims the due ticks it can lock in
 * Postgres, and the primary key of `schedule_fires` lets exactly one pass fire each tick
 * (@vmo/shared/schedules claimDueTicks). A worker killed -9 mid-pass leaves at most `pending`
 * fires, which the other workers' passes finish. Nothing of it lives in Redis.
 */
export function startSchedulerLoop(cp: ControlPlane, opts: { maxTargets: number; loopMs?: number }): BackgroundLoop {
  const loopMs = opts.loopMs ?? SCHEDULER_LOOP_MS;
  return repeatInBackground(cp.log, 'scheduler', loopMs, () => runSchedulerPass(cp, { loopMs, maxTargets: opts.maxTargets }));
}
