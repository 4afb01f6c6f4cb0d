import { publishAgentCommand } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { transition } from './lifecycle/transition.ts';
import { unendedJobsOfAgent } from './queries/agent-jobs.ts';

/**
 * End every job of a revoked agent at once: `failed`, error `agent_revoked`. Not `lost`: lost
 * says "we do not know what became of it", and here we do: the operator cut the agent off and
 * its commands are killed (the agent kills every job when refused, and each job is abandoned
 * below as well). Waiting out the lost-agent grace would only keep the job `running` for
 * minutes with nobody left to end it sooner.
 *
 * Queued jobs for the agent end too: no agent will ever take them. Call it after the agent row is
 * marked revoked, so no new job can pick the agent meanwhile. Returns how many jobs it ended.
 */
export async function endRevokedAgentJobs(cp: ControlPlane, agentId: string): Promise<number> {
  const jobs = await unendedJobsOfAgent(cp.database.sql, agentId);
  let ended = 0;
  for (const job of jobs) {
    const message =
      job.status === 'running'
        ? `agent ${agentId} was revoked while the job ran; its command was killed`
        : `agent ${agentId} was revoked before the job started`;
    const change = { kind: 'end', from: job.status, attempt: job.attempt, status: 'failed', error: { code: 'agent_revoked', message } } as const;
    if (!(await transition(cp, job.id, change))) continue;
    ended++;
    if (job.status === 'queued') await cp.queue.remove(job.id).catch(() => {}); // best effort: a worker skips it anyway
    // The node holding the agent kills the command even before the revoke closes the socket.
    await publishAgentCommand(cp, agentId, { type: 'abandon', jobId: job.id });
  }
  return ended;
}
