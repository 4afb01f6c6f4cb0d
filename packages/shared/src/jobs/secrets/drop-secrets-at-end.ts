import { repeatInBackground, type BackgroundLoop } from '../../background.ts';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { isTerminal } from '../../domain/job-status.ts';
import type { Logger } from '../../logger.ts';
import { onTransition, type TransitionObserver } from '../lifecycle/observers.ts';
import { dropEndedJobSecrets, dropJobSecrets } from './job-secrets-store.ts';

/**
 * A lifecycle observer: when this process ends a job that had secretEnv, its sealed secrets are
 * deleted at once. Jobs without secrets cost nothing (the row as written says so). A delete that
 * fails is left to the sweep, which also drops the secrets of runs that ended.
 */
export function dropSecretsOnEnd(cp: Pick<ControlPlane, 'database' | 'log'>): TransitionObserver {
  return async ({ job, to }) => {
    // A run's child has no row of its own: its run's secrets go when the run ends (runs/roll-up.ts).
    if (!isTerminal(to) || !job.secretEnvNames || job.runId) return;
    await dropJobSecrets(cp.database.sql, job.id).catch((err: Error) =>
      cp.log.warn({ err: err.message, jobId: job.id }, "could not drop an ended job's secrets; the sweep will"),
    );
  };
}

/**
 * Secrets are kept only until their job ends: the observer above for the ends this process writes,
 * and every `everyMs` a sweep for the ends it did not see (written by an API node, by a process that
 * died before its observer ran, or whose delete failed). One maintenance loop as far as the caller
 * is concerned: `stop()` ends both.
 */
export function keepJobSecretsUntilJobsEnd(cp: Pick<ControlPlane, 'database' | 'log'>, log: Logger, everyMs: number): BackgroundLoop {
  const unobserve = onTransition(dropSecretsOnEnd(cp));
  const sweep = repeatInBackground(log, 'ended-job secrets sweep', everyMs, async () => {
    const dropped = await dropEndedJobSecrets(cp.database.sql);
    if (dropped > 0) log.debug({ dropped }, "dropped ended jobs' secrets");
  });
  return {
    async stop() {
      unobserve();
      await sweep.stop();
    },
  };
}
