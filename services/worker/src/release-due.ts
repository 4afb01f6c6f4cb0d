import { repeatInBackground, type BackgroundLoop } from '@vmo/shared/background';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { RELEASE_DUE_EVERY_MS } from '@vmo/shared/domain';
import { releaseDueJobs, releaseDueRetries } from '@vmo/shared/jobs';
import { releaseDueRuns } from '@vmo/shared/runs';

/**
 * `runAt` (issue 14): in every worker, release the single jobs whose runAt has come and roll up
 * the runs whose runAt has come, every RELEASE_DUE_EVERY_MS. Why they wait in Postgres and not
 * in BullMQ's delayed set: packages/shared/src/jobs/run-at/release-due-jobs.ts.
 */
export function startReleaseDueLoop(cp: ControlPlane): BackgroundLoop {
  return repeatInBackground(cp.log, 'run-at release', RELEASE_DUE_EVERY_MS, async () => {
    await releaseDueJobs(cp);
    await releaseDueRuns(cp);
    // Jobs waiting for their next attempt (issue 14), held the same way: jobs/retry/release-due-retries.ts.
    await releaseDueRetries(cp);
  });
}
