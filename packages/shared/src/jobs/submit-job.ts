import { resolveRetryPolicy } from '../domain/retry-policy.ts';
import { and, eq, isNull, or } from 'drizzle-orm';
import { secretEnvToSeal } from './secrets/secret-env-to-seal.ts';
import { AppError } from '../errors/app-error.ts';
import { agents } from '../db/schema/index.ts';
import { newId } from '../domain/ids.ts';
import { enqueueJobGrouped } from '../queue/enqueue-grouped.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { JobInput } from './job-input.ts';
import { jobView, type JobRow, type JobView } from './job-view.ts';
import { requestHash, type Idempotency } from './idempotency.ts';
import { insertJobOnce } from './insert-job-once.ts';
import { insertJob } from './insert-job.ts';
import { insertJobGrouped } from './insert-job-grouped.ts';
import { countJobsSubmitted } from '../metrics/index.ts';
import { markChanged } from '../bus/change-notifier.ts';
import { insertJobSecrets } from './secrets/job-secrets-store.ts';
import { sealSecretEnv, secretEnvDigest } from './secrets/seal-secret-env.ts';

/** A saved command's name and version, as a job or run started from it records them. */
export interface SavedCommandRef {
  name: string;
  version: number;
}

/** Resolve an agent by id or by name among live (not revoked) agents. */
export async function resolveAgent(cp: ControlPlane, ref: string) {
  const [agent] = await cp.database.db
    .select({ id: agents.id, name: agents.name })
    .from(agents)
    .where(and(isNull(agents.revokedAt), or(eq(agents.id, ref), eq(agents.name, ref))))
    .limit(1);
  return agent;
}

/**
 * Accept a job: insert the row, then add it to the queue.
 *
 * LOUD: the row is committed before anything else happens; once this returns, the job is durable
 * even if the enqueue failed (Redis down) because the reconciler re-adds `queued` rows that BullMQ
 * does not know. Do not reorder these two steps.
 */
export async function submitJob(
  cp: ControlPlane,
  input: JobInput,
  createdBy: string | null,
  idempotency?: Idempotency,
  /** The submitting user's id (users.id), null for the bootstrap admin: who may see the job as its creator. */
  ownerId: string | null = null,
  /** An ssh target's host as authorization judged it (access/may-run.ts assertMayRunJob): stored as is, the name not resolved again. */
  judgedHostId?: string,
  /** The saved command (issue 15) this job runs, by name and version: recorded on the job. */
  savedCommand?: SavedCommandRef,
): Promise<JobView & { replayed?: boolean }> {
  const secrets = secretEnvToSeal(cp, input);
  const agentRef = input.target.type === 'agent' ? input.target.agent : undefined;
  const unknownAgent = () => new AppError(422, 'unknown_agent', `no agent with id or name ${JSON.stringify(agentRef)}; see GET /v1/agents`);
  let agentId: string | null = null;
  if (agentRef !== undefined && idempotency) {
    // (Without a key, the insert itself resolves the agent: see insertJob.)
    const agent = await resolveAgent(cp, agentRef);
    if (!agent) throw unknownAgent();
    agentId = agent.id;
  }
  let hostId: string | null = null;
  if (input.target.type === 'ssh') {
    const host = judgedHostId !== undefined ? { id: judgedHostId } : await resolveHost(cp.database.db, input.target.host);
    if (!host) throw new AppError(422, 'unknown_host', `no host with id, name or name@environment ${JSON.stringify(input.target.host)}; see GET /v1/hosts`);
    hostId = host.id;
  }
  const id = newId('job');
  const values = {
    id,
    status: 'queued' as const,
    command: input.command,
    target: input.target,
    agentId,
    hostId,
    env: input.env,
    secretEnvNames: secrets ? Object.keys(secrets.env).sort() : null,
    cwd: input.cwd ?? null,
    timeoutMs: input.timeoutMs,
    labels: input.labels,
    createdBy,
    ownerId,
    runAt: input.runAt === undefined ? null : new Date(input.runAt),
    priority: input.priority,
    retry: input.retry ? resolveRetryPolicy(input.retry) : null,
    retainDays: input.retainDays ?? null,
    commandName: savedCommand?.name ?? null,
    commandVersion: savedCommand?.version ?? null,
  };
  // LOUD: a job with secrets is inserted with them in one transaction: a job row without its
  // secrets would run without them.
  const sealed = secrets ? sealSecretEnv(secrets.box, id, secrets.env) : undefined;
  let row: JobRow;
  if (idempotency) {
    // Idempotent submissions keep the single path: the key's claim and the row are one
    // transaction that serialises on the key, which a shared multi-row INSERT cannot be.
    // The hash of a body with secrets carries a keyed digest of them, never the values' own hash.
    const hashed = secrets ? { ...input, secretEnv: { digest: secretEnvDigest(secrets.box, secrets.env) } } : input;
    const outcome = await insertJobOnce(cp, values, idempotency, requestHash(hashed), sealed);
    if (outcome.replayed) return { ...jobView(outcome.job), replayed: true };
    row = outcome.job;
  } else {
    // Without secrets: group commit (insert-job-grouped.ts), the row shares one INSERT with the
    // submissions of the same moment and is committed when this returns. With secrets: the single
    // path, the row and its sealed secrets in one transaction of their own (never batched: a
    // batch's retry job by job would have to carry the secrets along, for little gain).
    const inserted = sealed
      ? await cp.database.sql.begin(async (tx) => {
          const job = await insertJob(tx, values, agentRef);
          if (job) await insertJobSecrets(tx, job.id, sealed);
          return job;
        })
      : await insertJobGrouped(cp.database.sql, { values, agentRef });
    if (!inserted) throw unknownAgent();
    row = inserted;
  }
  countJobsSubmitted(row.target.type);
  markChanged(cp, 'jobs'); // dashboards (BUS.md §10): the row is committed, the publish comes later, coalesced
  // A job whose runAt is ahead was inserted held (released_at null): not in the queue until the
  // workers' release loop lets it go (jobs/run-at/release-due-jobs.ts says why it waits there).
  if (row.releasedAt === null) return jobView(row);
  // LOUD: only now, the row committed (the reconciler's guarantee). Shared with the adds of the same moment (one addBulk).
  const enqueued = await enqueueJobGrouped(cp.queue, row.id, row.agentId, row.priority);
  if (!enqueued) cp.log.warn({ jobId: row.id }, 'job stored but not enqueued (Redis unavailable); the reconciler will enqueue it');
  return jobView(row);
}

