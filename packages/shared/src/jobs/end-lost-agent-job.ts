import type { AgentChannelMessage } from '../protocol/channel-messages.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { markJobTerminal } from './mark-job-terminal.ts';
import type { JobRow } from './job-view.ts';

/**
 * End an agent job `lost` (its agent was away past the grace), fenced by attempt, then tell the
 * node holding the agent, should it have come back meanwhile, to abandon the job (PROTOCOL.md §6):
 * no late output is stored and the orphaned process is killed. An agent that is still away gets
 * `welcome.abandon` when it returns. Returns the ended job, or undefined if it had already ended.
 */
export async function endLostAgentJob(cp: ControlPlane, job: { id: string; agentId: string; attempt: number }, message: string): Promise<JobRow | undefined> {
  const ended = await markJobTerminal(cp, job.id, { status: 'lost', error: { code: 'agent_lost', message } }, job.attempt);
  if (ended) {
    const msg: AgentChannelMessage = { t: 'abandon', jobId: job.id };
    await cp.redis.publish(cp.keys.agentChannel(job.agentId), JSON.stringify(msg)).catch(() => {});
  }
  return ended;
}
