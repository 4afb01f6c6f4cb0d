import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { JobStatus } from '../../domain/job-status.ts';
import { isTerminal } from '../../domain/job-status.ts';
import { agentPresence } from '../../presence/agent-presence.ts';
import { stopJob } from '../../jobs/stop-job.ts';

/** How often the discovery looks at its job: the answer waits for it, so not less often. */
const POLL_MS = 150;

export type DiscoveryJobEnd =
  | { kind: 'ended'; status: JobStatus; exitCode: number | null; error: { code: string; message: string } | null }
  | { kind: 'agent_offline' }
  | { kind: 'timeout' };

/**
 * Wait for a discovery job's end, never longer than `timeoutMs`: the answer to a GET is waiting.
 * A job still queued for an agent that is offline will not start before that agent comes back
 * (the dispatch waits for it, issue 2), so it is canceled at once and answered `agent_offline`;
 * one still going at the deadline is canceled and answered `timeout`. Presence `unknown` (Redis
 * not answering) is no verdict (presence/agent-presence.ts): the wait goes on to the deadline.
 */
export async function waitForDiscoveryJob(cp: ControlPlane, jobId: string, agentId: string | null, timeoutMs: number): Promise<DiscoveryJobEnd> {
  const deadline = Date.now() + timeoutMs;
  const sql = cp.database.sql;
  for (;;) {
    const [job] = await sql<{ status: JobStatus; exit_code: number | null; error_code: string | null; error_message: string | null }[]>`
      select status, exit_code, error_code, error_message from jobs where id = ${jobId}`;
    if (job && isTerminal(job.status)) {
      const error = job.error_code === null ? null : { code: job.error_code, message: job.error_message ?? '' };
      return { kind: 'ended', status: job.status, exitCode: job.exit_code, error };
    }
    if (job?.status === 'queued' && agentId !== null && (await agentPresence(cp, agentId)) === 'offline') {
      await cancel(cp, jobId);
      return { kind: 'agent_offline' };
    }
    if (Date.now() >= deadline) {
      await cancel(cp, jobId);
      return { kind: 'timeout' };
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

async function cancel(cp: ControlPlane, jobId: string): Promise<void> {
  // It may end on its own meanwhile (409 job_ended): then there is nothing to stop.
  await stopJob(cp, jobId, 'canceled').catch(() => undefined);
}
