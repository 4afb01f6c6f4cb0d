import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { Grants } from '../access/grants.ts';
import { agentsReadableBy, hostsReadableBy } from '../access/inventory-access.ts';
import { assertMayRunJob, assertMayRunOnTargets } from '../access/may-run.ts';
import { parseLabelSelector } from '../domain/label-selector.ts';
import { AppError, badRequest } from '../errors/app-error.ts';
import { validationError } from '../errors/zod-error.ts';
import { JobInput } from '../jobs/job-input.ts';
import type { JobView } from '../jobs/job-view.ts';
import { submitJob } from '../jobs/submit-job.ts';
import { RunInput } from '../runs/run-input.ts';
import { getRunView } from '../runs/queries/get-run-view.ts';
import type { RunView } from '../runs/run-view.ts';
import { submitRun } from '../runs/submit-run.ts';
import type { DefaultTargetInput, RunCommandInput } from './command-input.ts';
import { commandVersionToRun } from './command-service.ts';
import { showDefaultTargets } from './default-target-visibility.ts';
import { resolveParamValues } from './param-values.ts';

/** Who runs it: a submission by them, with their grants as POST /v1/jobs and /v1/runs judge them. */
export interface CommandRunner {
  userId: string | null;
  name: string;
  grants: Grants;
}

export type CommandRunResult = { kind: 'job'; command: { name: string; version: number }; job: JobView } | { kind: 'run'; command: { name: string; version: number }; run: RunView };

/** Fields that only mean something for a fleet run. */
const RUN_ONLY = ['strategy', 'offline', 'dispatchTimeoutMs'] as const;

/**
 * POST /v1/commands/{name}/run: the command's version (the latest, or `version`) with its
 * parameters judged (400 `invalid_param` naming one) and turned into VMO_PARAM_<NAME> variables,
 * submitted as a job (one `target`, or a job-target default) or a fleet run (`targets`, or a
 * run-targets default) through submitJob / submitRun, with the checks POST /v1/jobs and /v1/runs
 * make: the caller must be allowed to run on the target (or on every target of the run), the
 * same 403 `target_forbidden` / 422 `unknown_agent` etc., nothing written when refused.
 *
 * LOUD: the job's command is the script as stored, byte for byte. A value is never placed in it:
 * the shell reads the value only when the script expands "$VMO_PARAM_X", as data. Secret
 * parameters go to the job's secretEnv (sealed until it ends, masked in its output).
 */
export async function runCommand(cp: ControlPlane, name: string, input: RunCommandInput, runner: CommandRunner, opts: { maxTargets: number }): Promise<CommandRunResult> {
  const version = await commandVersionToRun(cp, name, input.version);
  const values = resolveParamValues(version.params, input.params);
  const command = { name: version.name, version: version.version };
  const given = input.target !== undefined || input.targets !== undefined;
  if (!given && !runner.grants.admin) await assertDefaultVisible(cp, runner.grants, version.defaultTarget);
  const where = input.target !== undefined ? { target: input.target } : input.targets !== undefined ? { targets: input.targets } : defaultOf(version.defaultTarget);
  const common = {
    command: version.script,
    env: values.env,
    ...(Object.keys(values.secretEnv).length > 0 ? { secretEnv: values.secretEnv } : {}),
    labels: { ...version.labels, ...(input.labels ?? {}) },
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : version.timeoutMs !== null ? { timeoutMs: version.timeoutMs } : {}),
    ...(input.runAt !== undefined ? { runAt: input.runAt } : {}),
    ...(input.priority !== undefined ? { priority: input.priority } : {}),
    ...(input.retry !== undefined ? { retry: input.retry } : {}),
  };

  if ('target' in where) {
    const runOnly = RUN_ONLY.find((f) => input[f] !== undefined);
    if (runOnly) throw badRequest('validation_failed', `${runOnly}: applies to a fleet run (targets, or a command whose defaultTarget is a selector); this run has one target`, { field: runOnly });
    const job = parsed(JobInput, { ...common, target: where.target });
    const judged = await assertMayRunJob(cp, runner.grants, job.target); // before anything is written, as POST /v1/jobs
    const { replayed: _replayed, ...view } = await submitJob(cp, job, runner.name, undefined, runner.userId, judged.hostId, command);
    return { kind: 'job', command, job: view };
  }

  const body = parsed(RunInput, {
    ...common,
    targets: where.targets,
    ...(input.strategy !== undefined ? { strategy: input.strategy } : {}),
    ...(input.offline !== undefined ? { offline: input.offline } : {}),
    ...(input.dispatchTimeoutMs !== undefined ? { dispatchTimeoutMs: input.dispatchTimeoutMs } : {}),
  });
  const sql = cp.database.sql;
  const grants = runner.grants;
  // Stored selectors were parsed when written, and a given one by the contract: this does not throw.
  const selector = body.targets.selector === undefined ? undefined : parseLabelSelector(body.targets.selector);
  const { run } = await submitRun(cp, body, {
    // As POST /v1/runs: the selector and the lists resolve only among the machines the caller may read.
    ...(grants.admin ? {} : { visibleTo: { agents: agentsReadableBy(sql, grants), hosts: hostsReadableBy(sql, grants) } }),
    ...(selector ? { selector } : {}),
    createdBy: runner.name,
    ownerId: runner.userId,
    maxTargets: opts.maxTargets,
    authorize: (targets) => assertMayRunOnTargets(sql, grants, targets),
    savedCommand: command,
  });
  // Read back with its counts, as POST /v1/runs answers it (the roll-up may already have released children).
  return { kind: 'run', command, run: (await getRunView(cp, run.id))! };
}

function defaultOf(target: RunCommandInput['target'] | RunCommandInput['targets'] | null) {
  if (target === null || target === undefined) {
    throw badRequest('validation_failed', 'target: the command has no defaultTarget; give target (one machine) or targets (a selector, agents, hosts)', { field: 'target' });
  }
  return 'type' in target ? { target } : { targets: target };
}

/**
 * A default target that names a machine the caller may not read (or one that does not exist: the
 * listings hide both alike, default-target-visibility.ts) is refused before it is judged, with the
 * same 422 `unknown_agent` / `unknown_host` for hidden and absent, naming no machine: the checks
 * after this quote the ref, which would tell the caller another team's machine a command names.
 */
async function assertDefaultVisible(cp: ControlPlane, grants: Grants, target: RunCommandInput['target'] | RunCommandInput['targets'] | null): Promise<void> {
  if (target === null || target === undefined) return;
  const refs: ({ type: 'agent'; agent: string } | { type: 'ssh'; host: string })[] =
    'type' in target
      ? target.type === 'agent' ? [{ type: 'agent', agent: target.agent }] : target.type === 'ssh' ? [{ type: 'ssh', host: target.host }] : []
      : [...(target.agents ?? []).map((agent) => ({ type: 'agent' as const, agent })), ...(target.hosts ?? []).map((host) => ({ type: 'ssh' as const, host }))];
  if (refs.length === 0) return;
  const shown = await showDefaultTargets(cp, grants, refs.map((ref): { defaultTarget: DefaultTargetInput } => ({ defaultTarget: ref })));
  const hidden = shown.findIndex((s) => s.defaultTargetHidden);
  if (hidden < 0) return;
  const kind = refs[hidden]!.type === 'agent' ? 'agent' : 'host';
  throw new AppError(422, kind === 'agent' ? 'unknown_agent' : 'unknown_host', `the command's default target names ${kind === 'agent' ? 'an agent' : 'a host'} that does not exist or that you may not see; give target or targets`, { field: 'target' });
}

/** The job or run body built from the command, checked by the same schema POST /v1/jobs or /v1/runs uses (merged labels over 64 and the like: 400 naming the field). */
function parsed<S extends typeof JobInput | typeof RunInput>(schema: S, body: unknown) {
  const result = schema.safeParse(body);
  if (!result.success) throw validationError(result.error);
  return result.data as ReturnType<S['parse']>;
}
