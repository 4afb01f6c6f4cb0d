import { repeatInBackground, type BackgroundLoop } from '@vmo/shared/background';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { RETENTION_PASS_BUDGET_MS, RETENTION_PAUSE_MS, type RetentionPolicy } from '@vmo/shared/domain';
import { runRetentionPass } from '@vmo/shared/retention';

/** How often the loop looks whether a pass is due (a pass that stopped at its budget goes on at the next look). */
const LOOK_MS = 1_000;

/**
 * Retention (issue 14) in every worker: a pass (@vmo/shared/retention runRetentionPass) every
 * `everyMs`; one that stopped at its budget with work left is followed by the next within a
 * second, so a long history is worked off in bounded passes and a shutdown never waits for more
 * than one statement (stop() aborts the pass between two). One worker's pass at a time: the
 * others find the advisory lock taken and skip.
 */
export function startRetentionLoop(cp: ControlPlane, policy: RetentionPolicy, everyMs: number): BackgroundLoop {
  const abort = new AbortController();
  let nextAt = Date.now() + Math.min(everyMs, 10_000); // soon after a start, not at once with everything else
  const loop = repeatInBackground(cp.log, 'retention', Math.min(LOOK_MS, everyMs), async () => {
    if (Date.now() < nextAt) return;
    nextAt = Date.now() + everyMs;
    const counts = await runRetentionPass(cp, { policy, budgetMs: RETENTION_PASS_BUDGET_MS, pauseMs: RETENTION_PAUSE_MS, signal: abort.signal });
    if (counts.more) nextAt = Date.now();
    const { jobs, runs, outputRows, outputExpiredJobs, scheduleFires, auditEvents, shellSessions, shellOutputRows } = counts;
    if (jobs + runs + outputRows + outputExpiredJobs + scheduleFires + auditEvents + shellSessions + shellOutputRows > 0) {
      cp.log.info({ jobs, runs, outputRows, outputExpiredJobs, scheduleFires, auditEvents, shellSessions, shellOutputRows, more: counts.more }, 'retention deleted');
    }
  });
  return {
    async stop() {
      abort.abort();
      await loop.stop();
    },
  };
}
