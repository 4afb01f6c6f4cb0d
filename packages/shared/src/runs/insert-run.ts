import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { newId } from '../domain/ids.ts';
import { AppError } from '../errors/app-error.ts';
import { IDEMPOTENCY_TTL_HOURS, type Idempotency } from '../jobs/idempotency.ts';
import { insertRunSecrets } from '../jobs/secrets/job-secrets-store.ts';
import type { RunTarget } from './resolve-run-targets.ts';
import type { runs } from '../db/schema/runs.ts';
import { rowToRun, type RunRow } from './run-row.ts';
import { DEFAULT_PRIORITY } from '../domain/run-at-and-priority.ts';

export type NewRun = Omit<typeof runs.$inferInsert, 'status' | 'total'> & { id: string };

/** Children written per statement: 10,000 targets are two statements, not 10,000 round trips. */
const CHILDREN_PER_INSERT = 5000;

/**
 * The run and one child per target in ONE transaction (the run is durable, whole, before the
 * 201, or not at all). Children are `queued` and held (`released_at` null): only the roll-up lets
 * them go. A run with secretEnv: its one sealed row (run_secrets) and every child's
 * `secret_env_names` are written here too. With an Idempotency-Key the key is claimed in the same transaction, as for a job
 * (jobs/insert-job-once.ts): a concurrent twin waits on the key's row and then gets this run.
 */
export async function insertRun(
  cp: ControlPlane,
  v: NewRun,
  targets: readonly RunTarget[],
  idem?: { key: Idempotency; hash: string },
  /** The run's secretEnv sealed once for every child (jobs/secrets sealRunSecretEnv); `v.secretEnvNames` lists its names. */
  sealedSecretEnv?: Buffer,
): Promise<{ run: RunRow; replayed: boolean }> {
  return cp.database.sql.begin(async (tx) => {
    if (idem) {
      const existing = await claimKey(tx, idem.key, idem.hash, v.id);
      if (existing) return { run: existing, replayed: true };
    }
    const [row] = await tx`
      insert into runs (id, status, command, env, secret_env_names, cwd, timeout_ms, targets, strategy_input, strategy, offline, dispatch_timeout_ms, labels, created_by, owner_id, total, run_at, priority, retry, command_name, command_version, retain_days)
      values (${v.id}, 'queued', ${v.command}, ${JSON.stringify(v.env ?? {})}::jsonb, ${secretNames(v)}::jsonb, ${v.cwd ?? null}, ${v.timeoutMs},
              ${JSON.stringify(v.targets)}::jsonb, ${JSON.stringify(v.strategyInput ?? {})}::jsonb, ${JSON.stringify(v.strategy)}::jsonb,
              ${v.offline ?? 'wait'}, ${v.dispatchTimeoutMs ?? null}, ${JSON.stringify(v.labels ?? {})}::jsonb, ${v.createdBy ?? null}, ${v.ownerId ?? null}, ${targets.length},
              ${runAtOf(v)}::timestamptz, ${priorityOf(v)}, ${retryOf(v)}::jsonb, ${v.commandName ?? null}, ${v.commandVersion ?? null}, ${v.retainDays ?? null}::int)
      returning *`;
    // LOUD: in this transaction: no child exists without the secrets it was submitted with.
    if (sealedSecretEnv) await insertRunSecrets(tx, v.id, sealedSecretEnv);
    for (let start = 0; start < targets.length; start += CHILDREN_PER_INSERT) {
      await insertChildren(tx, v, targets.slice(start, start + CHILDREN_PER_INSERT), start);
    }
    return { run: rowToRun(row!), replayed: false };
  });
}

/**
 * One multi-row insert from arrays (`unnest`): a handful of parameters whatever the number of
 * children. Each child is the job a single submission to that target would be (same command,
 * env, cwd, timeout, labels, creator; `target` and the resolved agent or host), plus its place
 * in the run, the run's offline policy and dispatch timeout, its runAt (shown; the run holds the
 * child) and its priority (inherited: the child is queued and lined up by it).
 */
async function insertChildren(tx: postgres.TransactionSql, v: NewRun, targets: readonly RunTarget[], firstIndex: number): Promise<void> {
  const ids = targets.map(() => newId('job'));
  const offline = v.offline === 'skip' || v.offline === 'fail' ? v.offline : null;
  await tx`
    insert into jobs (id, status, command, target, agent_id, host_id, env, secret_env_names, cwd, timeout_ms, labels, created_by, owner_id,
                      run_id, run_index, target_name, target_kind, released_at, dispatch_timeout_ms, offline, run_at, priority, retry, command_name, command_version, retain_days)
    select t.id, 'queued', ${v.command},
           case when t.kind = 'agent' then jsonb_build_object('type', 'agent', 'agent', t.target_id)
                else jsonb_build_object('type', 'ssh', 'host', t.target_id) end,
           case when t.kind = 'agent' then t.target_id end,
           case when t.kind = 'ssh' then t.target_id end,
           ${JSON.stringify(v.env ?? {})}::jsonb, ${secretNames(v)}::jsonb, ${v.cwd ?? null}, ${v.timeoutMs}, ${JSON.stringify(v.labels ?? {})}::jsonb, ${v.createdBy ?? null}, ${v.ownerId ?? null},
           ${v.id}, t.ord - 1 + ${firstIndex}, t.name, t.kind, null, ${v.dispatchTimeoutMs ?? null}, ${offline}, ${runAtOf(v)}::timestamptz, ${priorityOf(v)}, ${retryOf(v)}::jsonb,
           ${v.commandName ?? null}::text, ${v.commandVersion ?? null}::int, ${v.retainDays ?? null}::int
    from unnest(${ids}::text[], ${targets.map((t) => t.kind)}::text[], ${targets.map((t) => t.id)}::text[], ${targets.map((t) => t.name)}::text[])
         with ordinality as t(id, kind, target_id, name, ord)`;
}

/** The run's runAt as text for Postgres (every child shows it too), or null. */
const runAtOf = (v: NewRun): string | null => (v.runAt ? v.runAt.toISOString() : null);
/** The run's priority: its children's (a child is queued, and lined up on its target, by it). */
const priorityOf = (v: NewRun): number => v.priority ?? DEFAULT_PRIORITY;
/** The run's retry policy (resolved), as text for Postgres: every child's (issue 14), or null. */
const retryOf = (v: NewRun): string | null => (v.retry ? JSON.stringify(v.retry) : null);

/** The secretEnv names as jsonb text, or null (no secrets: the children cost no secret read). */
const secretNames = (v: NewRun): string | null => (v.secretEnvNames && v.secretEnvNames.length > 0 ? JSON.stringify(v.secretEnvNames) : null);

/**
 * Claim the key for this run, or find the run it already names: that run (same body), or 422
 * (another body). An expired key is replaced. Undefined: claimed, go on and insert.
 */
async function claimKey(tx: postgres.TransactionSql, idem: Idempotency, hash: string, runId: string): Promise<RunRow | undefined> {
  await tx`
    delete from idempotency_keys
    where principal = ${idem.principal} and key = ${idem.key} and created_at < now() - ${IDEMPOTENCY_TTL_HOURS} * interval '1 hour'`;
  const claimed = await tx`
    insert into idempotency_keys (principal, key, request_hash, job_id) values (${idem.principal}, ${idem.key}, ${hash}, ${runId})
    on conflict do nothing returning job_id`;
  if (claimed.length === 1) return undefined;
  const [existing] = await tx<{ request_hash: string; job_id: string }[]>`
    select request_hash, job_id from idempotency_keys where principal = ${idem.principal} and key = ${idem.key}`;
  if (!existing || existing.request_hash !== hash) throw keyReused();
  const [run] = await tx`select * from runs where id = ${existing.job_id}`;
  // The key named a job (same principal, same key on POST /v1/jobs): the hashes differ by their
  // `run:` prefix, so this is only reached for a run, but never answer a run that is not one.
  if (!run) throw keyReused();
  return rowToRun(run);
}

export const keyReused = () =>
  new AppError(422, 'idempotency_key_reused', 'Idempotency-Key: this key was already used with a different request; use a new key for a new run', {
    field: 'Idempotency-Key',
  });
