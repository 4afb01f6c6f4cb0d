import { publishAgentCommand, type AgentCommand, type Unversioned, type BusSubscriber } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { isTerminal } from '@vmo/shared/domain';
import { endLostAgentJob, getDispatchState, readSealedSecretEnv, sendStop, transition, type DispatchState } from '@vmo/shared/jobs';
import { agentPresence } from '@vmo/shared/presence';
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
export function agentExecutor(cp: ControlPlane, bus: Pick<BusSubscriber, 'jobEvents'>): Executor {
  return {
    async run({ job, stop, detach, limits, fresh, cancelChecked }: ExecutionRequest): Promise<ExecutionResult> {
      const agentId = job.agentId!;
      let wake: () => void = () => {};
      const [unlisten] = await Promise.all([bus.jobEvents(job.id, () => wake()).catch(() => () => {}), cancelChecked]);
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
      const run: Unversioned<AgentCommand> = {
        type: 'run',
        jobId: job.id,
        attempt: job.attempt,
        command: job.command,
        env: job.env,
        cwd: job.cwd,
        maxOutputBytes: limits.maxOutputBytes,
        tailBytes: limits.tailBytes,
      };
      // The job's secretEnv, still sealed, read once before the first dispatch (null: it has none).
      let sealedSecretEnv: string | null | undefined = job.secretEnvNames && job.secretEnvNames.length > 0 ? undefined : null;
      let lastDispatch = 0;
      let goneSince: number | undefined;
      // A fresh start knows the row (running, not yet accepted) and that the agent was present a
      // moment ago: the first dispatch goes out without reading either again (dispatch latency).
      let known: DispatchState | undefined = fresh ? { status: job.status, accepted: false, attempt: job.attempt } : undefined;
      try {
        for (;;) {
          if (detach.aborted) return { kind: 'detached' };
          // LOUD: Postgres being unreachable says nothing about the job, which runs on the agent:
          // wait and look again. Throwing here would end a running agent job `failed`.
          let row: DispatchState | undefined = known;
          if (!row) {
            try {
              row = await getDispatchState(cp.database.sql, job.id);
            } catch (err) {
              cp.log.warn({ err: (err as Error).message, jobId: job.id }, 'cannot read the agent job; retrying');
              await sleep(POLL_MS);
              continue;
            }
          }
          // LOUD: not `running` any more is ended for this attempt, `queued` included: a retry (issue
          // 14) put the job back to wait for its next attempt, and this loop must never dispatch
          // the old attempt again (the agent forgot it after its exit, and would start it anew).
          if (!row || isTerminal(row.status) || row.status !== 'running' || row.attempt !== job.attempt) return { kind: 'ended' };

          // Presence `unknown` (Redis did not answer) counts as present: no verdict of `lost` on
          // a presence nobody could read (presence/agent-presence.ts).
          const online = known ? true : (await agentPresence(cp, agentId)) !== 'offline';
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
            if (!row.accepted && (await endUnacceptedJob(cp, job.id, job.attempt))) return { kind: 'ended' };
            // Pub/sub may have dropped the cancel (or the agent was away): say it again.
            if (Date.now() - lastStop >= RESTOP_MS) {
              lastStop = Date.now();
              void sendStop(cp, job.id, agentId, (stop.reason as StopRequest).graceMs);
            }
          } else if (!row.accepted && online && Date.now() - lastDispatch >= REDISPATCH_MS) {
            if (sealedSecretEnv === undefined) {
              // Postgres unreachable: as above, look again next round (the job runs on or waits).
              const sealed = await readSealedSecretEnv(cp.database.sql, job.id).catch((err: Error) => {
                cp.log.warn({ err: err.message, jobId: job.id }, "cannot read the agent job's sealed secrets; retrying");
                return false as const;
              });
              if (sealed === undefined) {
                const error = { code: 'secrets_unavailable', message: "the job's secrets are gone (they are dropped when a job ends); nothing ran" };
                if (await transition(cp, job.id, { kind: 'end', from: 'running', attempt: job.attempt, status: 'failed', error }).catch(() => undefined)) return { kind: 'ended' };
              } else if (sealed) sealedSecretEnv = sealed.toString('base64');
            }
            if (sealedSecretEnv !== undefined) {
              lastDispatch = Date.now();
              // Sealed as stored: the node holding the agent opens it for the `run` frame (BUS.md §5).
              await publishAgentCommand(cp, agentId, sealedSecretEnv === null ? run : { ...run, sealedSecretEnv });
            }
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

/** How often a stop is repeated to the agent until the job ends. */
const RESTOP_MS = 5000;

/** Ended here with its recorded stop reason, unless the agent has confirmed the start (then its exit ends it). */
async function endUnacceptedJob(cp: ControlPlane, jobId: string, attempt: number): Promise<boolean> {
  const ended = await transition(cp, jobId, { kind: 'end_unaccepted', attempt }).catch(() => undefined);
  return ended !== undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
