import type { ControlPlane } from '@vmo/shared/control-plane';
import { endLostAgentJob, sendStop, stopJob } from '@vmo/shared/jobs';

/**
 * Safety net for running agent jobs that no worker is watching (every worker holding them died,
 * or BullMQ lost them with Redis): past its timeout a job is stopped, and when its agent has not
 * been seen for longer than the grace it ends `lost`; a stop the agent did not act on is repeated.
 */
export async function sweepRunningAgentJobs(cp: ControlPlane): Promise<void> {
  const graceMs = cp.limits.agentGraceMs;
  const overdue = await cp.database.sql<{ id: string }[]>`
    select id from jobs
    where status = 'running' and agent_id is not null and cancel_reason is null
      and started_at + (timeout_ms + 5000) * interval '1 millisecond' < clock_timestamp()
    limit 500`;
  for (const { id } of overdue) await stopJob(cp, id, 'timed_out').catch(() => {});

  // A stop the agent never got (pub/sub dropped it while nobody watched the job): say it again.
  const unheeded = await cp.database.sql<{ id: string; agent_id: string; cancel_grace_ms: number | null }[]>`
    select id, agent_id, cancel_grace_ms from jobs
    where status = 'running' and agent_id is not null and cancel_reason is not null
      and cancel_requested_at < clock_timestamp() - (coalesce(cancel_grace_ms, 10000) + 10000) * interval '1 millisecond'
    limit 500`;
  for (const job of unheeded) await sendStop(cp, job.id, job.agent_id, job.cancel_grace_ms ?? 10_000);

  const orphaned = await cp.database.sql<{ id: string; attempt: number; agent_id: string }[]>`
    select j.id, j.attempt, j.agent_id from jobs j join agents a on a.id = j.agent_id
    where j.status = 'running'
      and coalesce(a.last_seen_at, j.started_at) < clock_timestamp() - ${graceMs} * interval '1 millisecond'
      and j.started_at < clock_timestamp() - ${graceMs} * interval '1 millisecond'
    limit 500`;
  for (const job of orphaned) {
    const present = await cp.redis.exists(cp.keys.agentPresence(job.agent_id)).catch(() => 1);
    if (present) continue;
    await endLostAgentJob(cp, { id: job.id, agentId: job.agent_id, attempt: job.attempt }, `agent ${job.agent_id} was unreachable for more than ${graceMs} ms`);
  }
}
