import type { ControlPlane } from '@vmo/shared/control-plane';
import { DEFAULT_CANCEL_GRACE_MS } from '@vmo/shared/domain';
import { agentJobsUnseenFor, endLostAgentJob, overdueAgentJobs, sendStop, stopJob, unheededAgentStops } from '@vmo/shared/jobs';
import { agentPresence } from '@vmo/shared/presence';

/**
 * Safety net for running agent jobs that no worker is watching (every worker holding them died,
 * or BullMQ lost them with Redis): past its timeout a job is stopped, and when its agent has not
 * been seen for longer than the grace it ends `lost`; a stop the agent did not act on is repeated.
 */
export async function sweepRunningAgentJobs(cp: ControlPlane): Promise<void> {
  const sql = cp.database.sql;
  const graceMs = cp.limits.agentGraceMs;
  for (const id of await overdueAgentJobs(sql)) await stopJob(cp, id, 'timed_out').catch(() => {});

  // A stop the agent never got (pub/sub dropped it while nobody watched the job): say it again.
  for (const job of await unheededAgentStops(sql)) await sendStop(cp, job.id, job.agentId, job.graceMs ?? DEFAULT_CANCEL_GRACE_MS);

  for (const job of await agentJobsUnseenFor(sql, graceMs)) {
    // Only `offline` is a verdict: `unknown` (Redis did not answer) never declares a job lost.
    if ((await agentPresence(cp, job.agentId)) !== 'offline') continue;
    await endLostAgentJob(cp, job, `agent ${job.agentId} was unreachable for more than ${graceMs} ms`);
  }
}
