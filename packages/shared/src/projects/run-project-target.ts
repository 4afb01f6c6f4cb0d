import type { ControlPlane } from '../control-plane/control-plane.ts';
import { AppError, badRequest } from '../errors/app-error.ts';
import { validationError } from '../errors/zod-error.ts';
import { JobInput, MAX_COMMAND_BYTES } from '../jobs/job-input.ts';
import type { JobView } from '../jobs/job-view.ts';
import { submitJob } from '../jobs/submit-job.ts';
import { cachedTargets, discoverTargets } from './discovery/discover-targets.ts';
import { makeRunCommand } from './make-run-command.ts';
import type { RunTargetInput } from './project-input.ts';
import { projectJobTarget } from './project-row.ts';
import { projectToActOn, type ProjectActor } from './project-service.ts';

/**
 * POST /v1/projects/{alias}/targets/{target}/run: `make <target>` in the project's directory, as
 * a job of the caller's on its machine (live output, logs, cancel: a job like any other). Takes
 * `run` there, as POST /v1/jobs. The target must be one the last discovery found; a project never
 * discovered is discovered first (one job more, within `discoveryTimeoutMs`).
 */
export async function runProjectTarget(
  cp: ControlPlane,
  alias: string,
  target: string,
  input: RunTargetInput,
  actor: ProjectActor,
  opts: { discoveryTimeoutMs: number },
): Promise<JobView> {
  const { row, hostId } = await projectToActOn(cp, alias, actor);
  // Before any discovery: a body the contract accepts (64 values of 4 KiB) can still make a
  // command past a job's budget; that is the caller's args, never a 500 nor a job run for nothing.
  assertWithinCommandBudget(row.dir, target, input.args);
  const known = cachedTargets(row) ?? (await discoverTargets(cp, row, actor, { timeoutMs: opts.discoveryTimeoutMs, hostId }));
  if (!known.targets.some((t) => t.name === target)) {
    throw new AppError(
      422,
      'unknown_make_target',
      `target: ${JSON.stringify(target)} is not a target of project ${JSON.stringify(alias)} (discovered ${known.discoveredAt}: ${known.targets.length} targets); GET /v1/projects/${alias}/targets lists them, ?refresh=true looks again`,
      { field: 'target' },
    );
  }
  const labels: Record<string, string> = { 'vmo.project': alias, 'vmo.action': 'run' };
  if (target.length <= 255) labels['vmo.make-target'] = target;
  const parsed = JobInput.safeParse({
    command: makeRunCommand(row.dir, target, input.args),
    target: projectJobTarget(row),
    labels,
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
  });
  if (!parsed.success) throw validationError(parsed.error);
  const job = parsed.data;
  const { replayed: _, ...view } = await submitJob(cp, job, actor.name, undefined, actor.userId, hostId);
  return view;
}

/** 400 naming `args` when `make <target> NAME=value…` in `dir` would not fit in a job's command (MAX_COMMAND_BYTES). */
function assertWithinCommandBudget(dir: string, target: string, args: Readonly<Record<string, string>>): void {
  // A target make could not take is judged after discovery (422 unknown_make_target), not here.
  if (target === '' || target.includes('=')) return;
  const bytes = Buffer.byteLength(makeRunCommand(dir, target, args));
  if (bytes <= MAX_COMMAND_BYTES) return;
  throw badRequest(
    'validation_failed',
    `args: the make command would be ${bytes} bytes (directory, target and every NAME=value quoted), over the ${MAX_COMMAND_BYTES} a job's command may hold; pass fewer or shorter values`,
    { field: 'args' },
  );
}
