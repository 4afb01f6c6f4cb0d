import { isTerminal } from '@vmo/shared/domain';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { getJob, onTransitionOnce, type JobRow, type JobTransition } from '@vmo/shared/jobs';
import type { Logger } from '@vmo/shared/logger';
import type { Executor } from './executors/executor.ts';

/**
 * A line per job start and per job end, at info (issue 12, Logs), with the ids an operator greps
 * for: `job started` when this process moves a job to `running`, `job ended` when it writes the
 * job's end (status, exit code or signal, error code and message, duration). An SSH host-key
 * refusal ends its job `failed` with the host's name and the reason, and is a warning.
 *
 * A lifecycle observer (told of the transitions this process wins), plus the agent executor's
 * `ended`: the end of an agent job is written by the API node holding the agent, so the worker
 * that waited for it reads the row once and says how it ended.
 *
 * Never the command, its env or its output: what ran is in the API, by job id.
 */
export function logJobLifecycle(cp: ControlPlane, executors: Executors): { executors: Executors; stop: () => void } {
  const lines = jobLines(cp.log);
  // Once per process (transitions are), whatever the number of workers started in it: a job's line is written once.
  const stop = onTransitionOnce('job-log', (t) => lines.onTransition(t));
  const logged: Executors = {
    ...executors,
    agent: {
      async run(req) {
        const result = await executors.agent.run(req);
        if (result.kind === 'ended') void lines.endedElsewhere(cp, req.job.id);
        return result;
      },
    },
  };
  return { executors: logged, stop };
}

type Executors = { local: Executor; agent: Executor; ssh: Executor };

/** Ends this process logged lately, so an agent job's end seen both ways is one line. */
const RECENT_ENDS = 10_000;

export function jobLines(log: Logger) {
  const recentEnds = new Set<string>();
  const ended = (job: JobRow) => {
    recentEnds.add(job.id);
    if (recentEnds.size > RECENT_ENDS) recentEnds.delete(recentEnds.values().next().value!);
    const hostKey = job.errorCode?.startsWith('host_key_') === true;
    (hostKey ? log.warn.bind(log) : log.info.bind(log))(
      {
        ...ids(job),
        status: job.status,
        exitCode: job.exitCode,
        ...(job.signal !== null && { signal: job.signal }),
        ...(job.errorCode !== null && { errorCode: job.errorCode, error: job.errorMessage }),
        durationMs: job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : null,
        outputBytes: job.outputBytes,
      },
      hostKey ? 'job ended: the SSH host key was refused' : 'job ended',
    );
  };
  return {
    onTransition(t: JobTransition): void {
      if (t.to === 'running' && t.from === 'queued') {
        const waitedMs = t.job.startedAt ? t.job.startedAt.getTime() - (t.job.releasedAt ?? t.job.createdAt).getTime() : null;
        log.info({ ...ids(t.job), attempt: t.job.attempt, queueWaitMs: waitedMs }, 'job started');
      } else if (t.kind === 'retry') {
        // Issue 14: the attempt is over and the job waits for the next one (its end is on record in job_attempts).
        log.info({ ...ids(t.job), attempt: t.job.attempt, retryAt: t.job.retryAt?.toISOString() ?? null }, 'job attempt failed; retrying');
      } else if (isTerminal(t.to)) ended(t.job);
    },
    /** An agent job whose end another process wrote (or this one, through the observer: then nothing). */
    async endedElsewhere(cp: ControlPlane, jobId: string): Promise<void> {
      if (recentEnds.has(jobId)) return;
      const job = await getJob(cp.database.sql, jobId).catch(() => undefined);
      if (job && isTerminal(job.status) && !recentEnds.has(jobId)) ended(job);
    },
  };
}

/** What a job line names it by: its id, its run, where it ran, and the worker that ran it. */
function ids(job: JobRow): Record<string, unknown> {
  return {
    jobId: job.id,
    ...(job.runId !== null && { runId: job.runId }),
    target: job.target.type,
    ...(job.agentId !== null && { agentId: job.agentId }),
    ...(job.target.type === 'agent' && { agent: job.target.agent }),
    ...(job.hostId !== null && { hostId: job.hostId }),
    ...(job.target.type === 'ssh' && { host: job.target.host }),
    ...(job.workerId !== null && { workerId: job.workerId }),
  };
}
