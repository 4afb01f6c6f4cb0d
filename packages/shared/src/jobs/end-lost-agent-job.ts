import { publishAgentCommand } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { JobRow } from './job-view.ts';
import { transition } from './lifecycle/transition.ts';

/**
 * End an agent job `lost` (its agent was away past the grace), fenced by attempt, then tell the
 * node holding the agent, should it have come back meanwhile, to abandon the job (PROTOCOL.md §6):
 * no late output is stored and the orphaned process is killed. An agent that is still away gets
 * `welcome.abandon` when it returns. Returns the ended job, or undefined if it had already ended.
 */
export async function endLostAgentJob(cp: ControlPlane, job: { id: string; agentId: string; attempt: number }, message: string): Promise<JobRow | undefined> {
  const ended = await transition(cp, job.id, { kind: 'end', from: 'running', attempt: job.attempt, status: 'lost', error: { code: 'agent_lost', message } });
  if (ended) await publishAgentCommand(cp, job.agentId, { type: 'abandon', jobId: job.id });
  return ended;
}
