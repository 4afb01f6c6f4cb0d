import { publishAgentCommand } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { transition } from './lifecycle/transition.ts';
import { unendedJobsOfAgent } from './queries/agent-jobs.ts';
import { getJob } from './queries/get-job.ts';
import type { JobStatus } from '../domain/job-status.ts';

type JobRef = { id: string; attempt: number; status: JobStatus };

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
  let ended = 0;
  for (const listed of await unendedJobsOfAgent(cp.database.sql, agentId)) if (await endRevokedAgentJob(cp, agentId, listed)) ended++;
  return ended;
}

/**
 * One job of a revoked agent, as listed. LOUD: a worker may start a queued job between the list
 * and its end (its presence check ran before the revoke). Then `queued → failed` matches nothing:
 * re-read and end it from `running` with its new attempt, or it would run on, cut off, until it
 * ended `lost` after the whole grace. A job leaves `queued` only once, so two looks suffice.
 */
export async function endRevokedAgentJob(cp: ControlPlane, agentId: string, listed: JobRef): Promise<boolean> {
  let job: JobRef | undefined = listed;
  for (let look = 0; job && look < 3; look++) {
    if (await endRevoked(cp, agentId, job)) return true;
    job = await getJob(cp.database.sql, job.id);
    if (job && job.status !== 'queued' && job.status !== 'running') return false; // ended by someone else
  }
  return false;
}

async function endRevoked(cp: ControlPlane, agentId: string, job: JobRef): Promise<boolean> {
  if (job.status !== 'queued' && job.status !== 'running') return false;
  const message =
    job.status === 'running'
      ? `agent ${agentId} was revoked while the job ran; its command was killed`
      : `agent ${agentId} was revoked before the job started`;
  const change = { kind: 'end', from: job.status, attempt: job.attempt, status: 'failed', error: { code: 'agent_revoked', message } } as const;
  if (!(await transition(cp, job.id, change))) return false;
  if (job.status === 'queued') await cp.queue.remove(job.id).catch(() => {}); // best effort: a worker skips it anyway
  // The node holding the agent kills the command even before the revoke closes the socket.
  await publishAgentCommand(cp, agentId, { type: 'abandon', jobId: job.id });
  return true;
}
