import type { ControlPlane } from '@vmo/shared/control-plane';
import { isTerminal, type JobStatus } from '@vmo/shared/domain';
import { endLostAgentJob, publishJobEnd, rowToJob, sendStop } from '@vmo/shared/jobs';
import type { AgentChannelMessage } from '@vmo/shared/protocol';
import type { JobEvents } from '../job-events.ts';
import type { ExecutionRequest, ExecutionResult, Executor, StopRequest } from './executor.ts';

/** How often the waiting worker looks at Postgres and presence even with no event. */
const POLL_MS = 1000;
/** How often an unconfirmed dispatch is sent again (the agent never runs a job twice). */
const REDISPATCH_MS = 3000;

/**
 * Agent jobs: send the dispatch through Redis to whichever API node holds the agent, then wait
 * for the gateway to record the end. The gateway writes the end (it alone knows when every chunk
 * is stored); this side re-sends the dispatch until the agent confirms it, forwards stop requests,
 * and declares the job `lost` when the agent has been gone longer than the grace.
 *
 * Re-attach: a worker that picks up a stalled agent job (its first worker died) runs this same
 * loop; the dispatch carries the same attempt, so the agent answers `started` without starting
 * the command again.
 */
export function agentExecutor(cp: ControlPlane, events: JobEvents): Executor {
  return {
    async run({ job, stop, detach, limits, fresh, cancelChecked }: ExecutionRequest): Promise<ExecutionResult> {
      const agentId = job.agentId!;
      let wake: () => void = () => {};
      const [unlisten] = await Promise.all([events.listen(job.id, () => wake()), cancelChecked]);
      const onStop = () => {
        const req = stop.reason as StopRequest;
        void sendStop(cp, job.id, agentId, req.graceMs);
        wake();
      };
      stop.addEventListener('abort', onStop, { once: true });
      if (stop.aborted) onStop(); // re-attached to a job already being stopped
      let lastStop = Date.now();
      const onDetach = () => wake();
      detach.addEventListener('abort', onDetach, { once: true });
      const run: AgentChannelMessage = {
        t: 'run',
        jobId: job.id,
        attempt: job.attempt,
        command: job.command,
        env: job.env,
        cwd: job.cwd,
        maxOutputBytes: limits.maxOutputBytes,
        tailBytes: limits.tailBytes,
      };
      let lastDispatch = 0;
      let goneSince: number | undefined;
      // A fresh start knows the row (running, not yet accepted) and that the agent was present a
      // moment ago: the first dispatch goes out without reading either again (dispatch latency).
      let known: JobStateRow | undefined = fresh ? { status: job.status, accepted_at: null, attempt: job.attempt } : undefined;
      try {
        for (;;) {
          if (detach.aborted) return { kind: 'detached' };
          // LOUD: Postgres being unreachable says nothing about the job, which runs on the agent:
          // wait and look again. Throwing here would end a running agent job `failed`.
          let row: JobStateRow | undefined = known;
          if (!row) {
            try {
              [row] = await cp.database.sql<JobStateRow[]>`
                select status, accepted_at, attempt from jobs where id = ${job.id}`;
            } catch (err) {
              cp.log.warn({ err: (err as Error).message, jobId: job.id }, 'cannot read the agent job; retrying');
              await sleep(POLL_MS);
              continue;
            }
          }
          if (!row || isTerminal(row.status as JobStatus) || row.attempt !== job.attempt) return { kind: 'ended' };

          const online = known ? true : (await cp.redis.exists(cp.keys.agentPresence(agentId)).catch(() => 1)) === 1;
          known = undefined;
          if (online) goneSince = undefined;
          else goneSince ??= Date.now();
          if (goneSince !== undefined && Date.now() - goneSince > cp.limits.agentGraceMs) {
            const lost = await endLostAgentJob(cp, { id: job.id, agentId, attempt: job.attempt }, `agent ${agentId} was unreachable for more than ${cp.limits.agentGraceMs} ms`).then(
              () => true,
              () => false, // Postgres unreachable: look again next round
            );
            if (lost) return { kind: 'ended' };
          }
          if (stop.aborted) {
            // Stopped before the agent confirmed it: end it here, never dispatch it again. The
            // update only matches while no `started` has landed, so a job that did start is left
            // to its exit.
            if (!row.accepted_at && (await endUnstartedJob(cp, job.id, job.attempt))) return { kind: 'ended' };
            // Pub/sub may have dropped the cancel (or the agent was away): say it again.
            if (Date.now() - lastStop >= RESTOP_MS) {
              lastStop = Date.now();
              void sendStop(cp, job.id, agentId, (stop.reason as StopRequest).graceMs);
            }
          } else if (!row.accepted_at && online && Date.now() - lastDispatch >= REDISPATCH_MS) {
            lastDispatch = Date.now();
            await cp.redis.publish(cp.keys.agentChannel(agentId), JSON.stringify(run)).catch(() => 0);
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, POLL_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        stop.removeEventListener('abort', onStop);
        detach.removeEventListener('abort', onDetach);
        unlisten();
      }
    },
  };
}

interface JobStateRow {
  status: string;
  accepted_at: Date | null;
  attempt: number;
}

/** How often a stop is repeated to the agent until the job ends. */
const RESTOP_MS = 5000;

async function endUnstartedJob(cp: ControlPlane, jobId: string, attempt: number): Promise<boolean> {
  const [row] = await cp.database.sql`
    update jobs set status = cancel_reason, finished_at = clock_timestamp()
    where id = ${jobId} and attempt = ${attempt} and status = 'running' and accepted_at is null and cancel_reason is not null
    returning *`.catch(() => []);
  if (!row) return false;
  await publishJobEnd(cp, rowToJob(row));
  return true;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
