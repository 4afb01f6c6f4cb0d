import { resolveRetryPolicy } from '../domain/retry-policy.ts';
import { createHash } from 'node:crypto';
import { secretEnvToSeal } from '../jobs/secrets/secret-env-to-seal.ts';
import { countJobsSubmitted } from '../metrics/index.ts';
import { markChanged } from '../bus/change-notifier.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { newId } from '../domain/ids.ts';
import { LabelSelectorError, parseLabelSelector, type LabelSelector } from '../domain/label-selector.ts';
import { AppError, badRequest } from '../errors/app-error.ts';
import { canonicalJson, IDEMPOTENCY_TTL_HOURS, type Idempotency } from '../jobs/idempotency.ts';
import { sealRunSecretEnv, secretEnvDigest } from '../jobs/secrets/seal-secret-env.ts';
import { insertRun, keyReused } from './insert-run.ts';
import { resolveRunTargets, type RunTarget, type RunTargetsQuery } from './resolve-run-targets.ts';
import { requestRollUp } from './roll-up.ts';
import { resolveStrategy, type RunInput } from './run-input.ts';
import { rowToRun, type RunRow } from './run-row.ts';

export interface SubmitRunOptions {
  /** `input.targets.selector` as the route parsed it (parsed here when absent). */
  selector?: LabelSelector;
  createdBy: string | null;
  /** The submitting user's id (users.id), null for the bootstrap admin; stamped on the run and every child. */
  ownerId?: string | null;
  idempotency?: Idempotency;
  /** VMO_MAX_RUN_TARGETS. */
  maxTargets: number;
  /**
   * Called with the resolved targets before anything is written; throwing refuses the run (the
   * API: 403 `target_forbidden` for targets no policy lets the caller run on, @vmo/shared/access).
   */
  authorize?: (targets: readonly RunTarget[]) => Promise<void>;
  /** The machines the caller may read: a selector resolves only among them (resolve-run-targets.ts); all when absent (an admin). */
  visibleTo?: RunTargetsQuery['visibleTo'];
  /** The saved command (issue 15) the run runs, by name and version: recorded on the run and every child. */
  savedCommand?: { name: string; version: number };
}

/**
 * Accept a run (POST /v1/runs): resolve its targets once, resolve its strategy against their
 * number, write the run and every child in one transaction, then roll it up once, which releases
 * the first children to the queue.
 *
 * LOUD: the run and its children are committed before anything is released or enqueued; once
 * this returns the run is durable whatever Redis or this process do next (a roll-up that does not
 * happen here happens in the worker's sweep). Do not reorder.
 *
 * Throws AppError 422: `no_targets`, `too_many_targets`, `invalid_strategy` (details.field),
 * `unknown_agent` / `unknown_host` / `ambiguous_host` (naming the entry), `idempotency_key_reused`,
 * `secrets_disabled` (secretEnv without VMO_SECRET_KEY); 400 for a secretEnv name also in env;
 * 400 `validation_failed` for a selector that does not parse (when the caller did not parse it).
 */
export async function submitRun(cp: ControlPlane, input: RunInput, opts: SubmitRunOptions): Promise<{ run: RunRow; replayed: boolean }> {
  const secrets = secretEnvToSeal(cp, input);
  // The hash of a body with secrets carries a keyed digest of them, never the values' own hash (as a job's).
  const hash = opts.idempotency ? runRequestHash(secrets ? { ...input, secretEnv: { digest: secretEnvDigest(secrets.box, secrets.env) } } : input) : undefined;
  if (opts.idempotency) {
    // A replay answers the run it made, even if its targets have changed since (an agent revoked).
    const replayed = await findReplay(cp, opts.idempotency, hash!);
    if (replayed) return { run: replayed, replayed: true };
  }

  const t = input.targets;
  const selector = opts.selector ?? (t.selector === undefined ? undefined : parseSelector(t.selector));
  const targets = await resolveRunTargets(
    cp,
    { ...(selector ? { selector } : {}), ...(t.kinds ? { kinds: t.kinds } : {}), ...(t.agents ? { agents: t.agents } : {}), ...(t.hosts ? { hosts: t.hosts } : {}), ...(opts.visibleTo ? { visibleTo: opts.visibleTo } : {}) },
    opts.maxTargets,
  );
  await opts.authorize?.(targets);
  const strategy = resolveStrategy(input.strategy, targets.length);
  if ('field' in strategy) throw new AppError(422, 'invalid_strategy', strategy.message, { field: strategy.field });

  const runId = newId('run');
  // Sealed ONCE for the run, whatever its number of children: each child reads it through its
  // run_id (jobs/secrets readSealedSecretEnv). 10,000 children are one seal and one row, not
  // 10,000 of each (up to 64 KiB each) inside the transaction below.
  const sealed = secrets ? sealRunSecretEnv(secrets.box, runId, secrets.env) : undefined;
  const outcome = await insertRun(
    cp,
    {
      id: runId,
      command: input.command,
      env: input.env,
      secretEnvNames: secrets ? Object.keys(secrets.env).sort() : null,
      cwd: input.cwd ?? null,
      timeoutMs: input.timeoutMs,
      targets: t,
      strategyInput: input.strategy,
      strategy,
      offline: input.offline,
      dispatchTimeoutMs: input.dispatchTimeoutMs ?? null,
      labels: input.labels,
      createdBy: opts.createdBy,
      ownerId: opts.ownerId ?? null,
      runAt: input.runAt === undefined ? null : new Date(input.runAt),
      priority: input.priority,
      retry: input.retry ? resolveRetryPolicy(input.retry) : null,
      retainDays: input.retainDays ?? null,
      commandName: opts.savedCommand?.name ?? null,
      commandVersion: opts.savedCommand?.version ?? null,
    },
    targets,
    opts.idempotency ? { key: opts.idempotency, hash: hash! } : undefined,
    sealed,
  );
  if (outcome.replayed) return outcome;
  // Each child is a job submitted, as POST /v1/jobs counts one (vmo_jobs_submitted_total).
  const perKind = new Map<string, number>();
  for (const target of targets) perKind.set(target.kind, (perKind.get(target.kind) ?? 0) + 1);
  for (const [kind, n] of perKind) countJobsSubmitted(kind, n);
  // Dashboards (BUS.md §10): the run and its children are committed.
  markChanged(cp, 'runs');
  markChanged(cp, 'jobs');
  await requestRollUp(cp, outcome.run.id);
  const [now] = await cp.database.sql`select * from runs where id = ${outcome.run.id}`.catch(() => []);
  return { run: now ? rowToRun(now) : outcome.run, replayed: false };
}


/** A run body's hash for its Idempotency-Key: `run:` first, so a job's body and a run's never match. */
export function runRequestHash(input: RunInput | (Omit<RunInput, 'secretEnv'> & { secretEnv?: { digest: string } })): string {
  return createHash('sha256').update(`run:${canonicalJson(input)}`).digest('hex');
}

async function findReplay(cp: ControlPlane, idem: Idempotency, hash: string): Promise<RunRow | undefined> {
  const sql = cp.database.sql;
  const [key] = await sql<{ request_hash: string; job_id: string }[]>`
    select request_hash, job_id from idempotency_keys
    where principal = ${idem.principal} and key = ${idem.key} and created_at >= now() - ${IDEMPOTENCY_TTL_HOURS} * interval '1 hour'`;
  if (!key) return undefined;
  if (key.request_hash !== hash) throw keyReused();
  const [run] = await sql`select * from runs where id = ${key.job_id}`;
  if (!run) throw keyReused();
  return rowToRun(run);
}

function parseSelector(text: string): LabelSelector {
  try {
    return parseLabelSelector(text);
  } catch (err) {
    if (!(err instanceof LabelSelectorError)) throw err;
    throw badRequest('validation_failed', `targets.selector: ${err.message}`, { field: 'targets.selector', position: err.position });
  }
}
