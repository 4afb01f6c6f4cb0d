import type { Database } from '@vmo/shared/db';
import type { Logger } from '@vmo/shared/logger';
import { resolveRoute, runRemoteCommand, SshError, stillTrusted, UnknownHostError, type SshConnectionPool, type SshRoute } from '@vmo/ssh';
import type { ExecutionRequest, ExecutionResult, Executor } from './executor.ts';
import { OutputPump } from './output-pump.ts';

export interface SshExecutorDeps {
  database: Database;
  pool: SshConnectionPool;
  log: Logger;
}

const failed = (error: { code: string; message: string }): ExecutionResult => ({ kind: 'exited', exitCode: null, signal: null, truncated: false, error });
/** Stopped before the command started: the recorded cancel reason becomes the status. */
const stoppedBeforeStart: ExecutionResult = { kind: 'exited', exitCode: null, signal: null, truncated: false };

/**
 * Runs the job on an agentless host over SSH: resolve the host (and its bastions) from the
 * inventory, take a session on the pooled connection (dialled and host-key-verified if needed),
 * run the command in its own process group there. Same output cap, timeout and cancel behaviour
 * as the local executor.
 */
export function sshExecutor({ database, pool, log }: SshExecutorDeps): Executor {
  return {
    async run({ job, stop, sink, limits, cancelChecked, secretEnv }: ExecutionRequest): Promise<ExecutionResult> {
      if (!job.hostId) return failed({ code: 'unknown_host', message: 'the job has no resolved host' });
      let route: SshRoute;
      try {
        route = await resolveRoute(database.db, job.hostId);
      } catch (err) {
        if (err instanceof UnknownHostError || err instanceof SshError) return failed({ code: err.code, message: err.message });
        throw err;
      }
      await cancelChecked; // asked while the route was read
      if (stop.aborted) return stoppedBeforeStart;

      let lease;
      try {
        lease = await pool.acquire(route, (c) => stillTrusted(route.target, c), stop);
      } catch (err) {
        if (stop.aborted) return stoppedBeforeStart;
        if (err instanceof SshError) return failed({ code: err.code, message: err.message });
        throw err;
      }
      const pump = new OutputPump(job, sink, { maxBytes: limits.maxOutputBytes, tailBytes: limits.tailBytes }, { secrets: Object.values(secretEnv ?? {}) });
      // The variables travel in the script on the session's stdin (ssh/remote-script.ts), inside the encrypted channel.
      const env = secretEnv ? { ...job.env, ...secretEnv } : job.env;
      try {
        const exit = await runRemoteCommand(lease, { jobId: job.id, command: job.command, env, cwd: job.cwd, where: route.target.label }, pump, stop, log);
        await pump.finish();
        return { kind: 'exited', exitCode: exit.exitCode, signal: exit.signal, truncated: pump.truncated, ...(exit.error ? { error: exit.error } : {}) };
      } finally {
        lease.release();
      }
    },
  };
}
