import { spawnJobProcess, type RunAsUser } from '@vmo/shared/process';
import type { ExecutionRequest, ExecutionResult, Executor, StopRequest } from './executor.ts';
import { OutputPump } from './output-pump.ts';

/** Runs the job as a child process group of this worker, as `runAs` (VMO_RUN_AS) when given. */
export function createLocalExecutor(runAs?: RunAsUser): Executor {
  return {
    async run({ job, stop, sink, limits, secretEnv }: ExecutionRequest): Promise<ExecutionResult> {
      const pump = new OutputPump(job, sink, { maxBytes: limits.maxOutputBytes, tailBytes: limits.tailBytes }, { secrets: Object.values(secretEnv ?? {}) });
      const env = secretEnv ? { ...job.env, ...secretEnv } : job.env;
      const proc = spawnJobProcess({ jobId: job.id, command: job.command, env, cwd: job.cwd, runAs }, (s, d) => pump.write(s, d));
      pump.attach(proc);
      const onStop = () => proc.stop((stop.reason as StopRequest).graceMs);
      if (stop.aborted) onStop();
      else stop.addEventListener('abort', onStop, { once: true });
      try {
        const exit = await proc.exited;
        await pump.finish();
        return { kind: 'exited', exitCode: exit.exitCode, signal: exit.signal, truncated: pump.truncated, stopped: exit.stopped, ...(exit.error ? { error: exit.error } : {}) };
      } finally {
        stop.removeEventListener('abort', onStop);
      }
    },
  };
}

/** The local executor running jobs as the worker's own user. */
export const localExecutor: Executor = createLocalExecutor();
