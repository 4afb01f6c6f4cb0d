import { inBackground } from '@vmo/shared/background';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { dropJobSecrets, openSecretEnv, readSealedSecretEnv } from '@vmo/shared/jobs';
import type { ExecutionRequest, ExecutionResult, Executor } from './executor.ts';

type Executors = { local: Executor; agent: Executor; ssh: Executor };

/** How many times a failed read of the sealed secrets is tried before the job fails (a Postgres blip). */
const READ_TRIES = 5;
const READ_RETRY_MS = 500;

/**
 * Gives each executor the job's secretEnv, for jobs that have one (the row lists its names):
 *
 * - local and SSH: the worker that runs the job opens the sealed secrets (VMO_SECRET_KEY) just
 *   before the command starts and hands them over as `secretEnv` (the command's environment, and
 *   the masking of its output). A worker that cannot open them (no key, another key, the row gone)
 *   ends the job `failed` with `secrets_unavailable` before anything runs;
 * - agent: the agent executor forwards them still sealed (executors/agent.ts); only the API node
 *   holding the agent's socket opens them, to put them in the `run` frame.
 *
 * Once the executor is done with the job (its command exited, or someone else ended it), the
 * sealed secrets are dropped here as well as by the lifecycle observer and the sweep
 * (jobs/secrets/drop-secrets-at-end.ts): the first one there deletes the row. A job handed on
 * (`detached`: this worker shuts down, another re-attaches) keeps them.
 *
 * Jobs without secrets go straight through: no read, no cost.
 */
export function withJobSecrets(cp: ControlPlane, executors: Executors): Executors {
  return {
    local: withSecrets(cp, executors.local, true),
    ssh: withSecrets(cp, executors.ssh, true),
    agent: withSecrets(cp, executors.agent, false),
  };
}

function withSecrets(cp: ControlPlane, inner: Executor, open: boolean): Executor {
  return {
    async run(req: ExecutionRequest): Promise<ExecutionResult> {
      if (!req.job.secretEnvNames || req.job.secretEnvNames.length === 0) return inner.run(req);
      let result: ExecutionResult | undefined;
      try {
        if (!open) return (result = await inner.run(req));
        const opened = await openJobSecrets(cp, req.job.id);
        if ('error' in opened) return (result = { kind: 'exited', exitCode: null, signal: null, truncated: false, error: opened.error });
        return (result = await inner.run({ ...req, secretEnv: opened.secretEnv }));
      } finally {
        if (result?.kind !== 'detached') inBackground(cp.log, "dropping a finished job's secrets", dropJobSecrets(cp.database.sql, req.job.id));
      }
    },
  };
}

/** The job's secretEnv in the clear, or why it cannot be had. Never logs a value. */
async function openJobSecrets(cp: ControlPlane, jobId: string): Promise<{ secretEnv: Record<string, string> } | { error: { code: string; message: string } }> {
  const unavailable = (message: string) => ({ error: { code: 'secrets_unavailable', message } });
  if (!cp.secretBox) return unavailable('the job has secretEnv and this worker has no VMO_SECRET_KEY to open it (set the same key on the API and every worker)');
  let sealed: Buffer | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      sealed = await readSealedSecretEnv(cp.database.sql, jobId);
      break;
    } catch (err) {
      // Thrown on: the job then fails `internal`, as for any store failure while starting it.
      if (attempt >= READ_TRIES) throw err;
      cp.log.warn({ err: (err as Error).message, jobId, attempt }, "cannot read the job's sealed secrets; retrying");
      await new Promise((r) => setTimeout(r, READ_RETRY_MS));
    }
  }
  if (!sealed) return unavailable("the job's secrets are gone (they are dropped when a job ends); nothing ran");
  try {
    return { secretEnv: openSecretEnv(cp.secretBox, jobId, sealed) };
  } catch (err) {
    // SecretBoxError messages name keys by id only; a JSON error would say nothing of the content.
    return unavailable(`the job's secrets could not be opened: ${(err as Error).message}`);
  }
}
