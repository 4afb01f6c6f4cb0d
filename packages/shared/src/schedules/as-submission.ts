import type { ControlPlane } from '../control-plane/control-plane.ts';
import { agentsReadableBy, hostsReadableBy } from '../access/inventory-access.ts';
import { assertMayRunJob, assertMayRunOnTargets } from '../access/may-run.ts';
import { isDeniedByPolicy, deniedByPolicy } from '../audit/policy-denial.ts';
import type { Idempotency } from '../jobs/idempotency.ts';
import { resolveAgent, submitJob } from '../jobs/submit-job.ts';
import { parseLabelSelector } from '../domain/label-selector.ts';
import { AppError } from '../errors/app-error.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import { resolveRunTargets } from '../runs/resolve-run-targets.ts';
import { resolveStrategy } from '../runs/run-input.ts';
import { submitRun } from '../runs/submit-run.ts';
import type { ScheduleOwner } from './schedule-owner.ts';
import type { ScheduledJobInput, ScheduledRunInput } from './schedule-input.ts';

/** What a schedule submits: a job body or a run body. */
export type ScheduledBody = { job: ScheduledJobInput; run?: undefined } | { run: ScheduledRunInput; job?: undefined };

/**
 * Submit a schedule's job or run AS its owner, through the functions POST /v1/jobs and POST
 * /v1/runs use, with the checks they make (assertMayRunJob; the run's targets resolved among what
 * the owner may read, then assertMayRunOnTargets): a tick may do exactly what the owner could do
 * by hand at that moment, no more.
 *
 * `idempotency` keys the job or run to its fire: a second submission for the same fire (a worker
 * finishing what a dead one started) returns the same job or run instead of a second one.
 */
export async function submitAsOwner(
  cp: ControlPlane,
  body: ScheduledBody,
  owner: ScheduleOwner,
  idempotency: Idempotency,
  maxTargets: number,
): Promise<{ jobId: string } | { runId: string }> {
  const sql = cp.database.sql;
  if (body.job) {
    const judged = await within('job', () => assertMayRunJob(cp, owner.grants, body.job.target));
    const job = await within('job', () => submitJob(cp, body.job, owner.name, idempotency, owner.userId, judged.hostId));
    return { jobId: job.id };
  }
  const run = body.run;
  const selector = run.targets.selector === undefined ? undefined : parseLabelSelector(run.targets.selector);
  const grants = owner.grants;
  const { run: created } = await within('run', () =>
    submitRun(cp, run, {
      ...(grants.admin ? {} : { visibleTo: { agents: agentsReadableBy(sql, grants), hosts: hostsReadableBy(sql, grants) } }),
      ...(selector ? { selector } : {}),
      createdBy: owner.name,
      ownerId: owner.userId,
      idempotency,
      maxTargets,
      authorize: (targets) => assertMayRunOnTargets(sql, grants, targets),
    }),
  );
  return { runId: created.id };
}

/**
 * The checks a submission of this body by `owner` would make now, without submitting it: a
 * schedule is refused when it is created (or its body changed) if a tick could only fail. Job:
 * the target exists and the owner may run there. Run: its targets resolve (among what the owner
 * may read), the owner may run on every one, the strategy fits them.
 */
export async function checkAsSubmission(cp: ControlPlane, body: ScheduledBody, owner: ScheduleOwner, maxTargets: number): Promise<void> {
  const sql = cp.database.sql;
  if (body.job) {
    const target = body.job.target;
    await within('job', async () => {
      const judged = await assertMayRunJob(cp, owner.grants, target);
      // An admin's target is not looked at by assertMayRunJob: the submission would find it, or 422.
      if (target.type === 'agent' && !(await resolveAgent(cp, target.agent))) {
        throw new AppError(422, 'unknown_agent', `no agent with id or name ${JSON.stringify(target.agent)}; see GET /v1/agents`);
      }
      if (target.type === 'ssh' && judged.hostId === undefined && !(await resolveHost(cp.database.db, target.host))) {
        throw new AppError(422, 'unknown_host', `no host with id, name or name@environment ${JSON.stringify(target.host)}; see GET /v1/hosts`);
      }
    });
    return;
  }
  const run = body.run;
  const grants = owner.grants;
  await within('run', async () => {
    const t = run.targets;
    const targets = await resolveRunTargets(
      cp,
      {
        ...(t.selector === undefined ? {} : { selector: parseLabelSelector(t.selector) }),
        ...(t.kinds ? { kinds: t.kinds } : {}),
        ...(t.agents ? { agents: t.agents } : {}),
        ...(t.hosts ? { hosts: t.hosts } : {}),
        ...(grants.admin ? {} : { visibleTo: { agents: agentsReadableBy(sql, grants), hosts: hostsReadableBy(sql, grants) } }),
      },
      maxTargets,
    );
    await assertMayRunOnTargets(sql, grants, targets);
    const strategy = resolveStrategy(run.strategy, targets.length);
    if ('field' in strategy) throw new AppError(422, 'invalid_strategy', strategy.message, { field: strategy.field });
  });
}

/**
 * A submission's refusal as the schedule's: the same code, status and words, the field it names
 * under `job.` or `run.` (`run.strategy.canary.count`; a refusal of the target itself names
 * `job.target` or `run.targets`), and a policy's hidden 404/422 still marked as one for the audit trail.
 */
async function within<T>(prefix: 'job' | 'run', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const field = typeof err.details?.field === 'string' ? `${prefix}.${err.details.field}` : prefix === 'job' ? 'job.target' : 'run.targets';
    const message = err.message.startsWith(`${String(err.details?.field)}:`) ? `${prefix}.${err.message}` : `${prefix}: ${err.message}`;
    const wrapped = new AppError(err.status as never, err.code, message, { ...err.details, field });
    return Promise.reject(isDeniedByPolicy(err) ? deniedByPolicy(wrapped) : wrapped);
  }
}
