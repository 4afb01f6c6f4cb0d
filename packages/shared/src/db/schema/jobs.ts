import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { JobStatus } from '../../domain/job-status.ts';
import type { JobTarget } from '../../domain/job-target.ts';
import type { RetryPolicy } from '../../domain/retry-policy.ts';
import type { TargetKind } from '../../domain/target-kind.ts';
import { bytea } from './bytea.ts';
import { xid8 } from './xid8.ts';

export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    status: text('status').$type<JobStatus>().notNull(),
    command: text('command').notNull(),
    target: jsonb('target').$type<JobTarget>().notNull(),
    /** Resolved agent id for agent jobs (the target may name the agent by name). */
    agentId: text('agent_id'),
    /** Resolved host id for ssh jobs (the target may name the host by name or name@environment). */
    hostId: text('host_id'),
    env: jsonb('env').$type<Record<string, string>>().notNull().default({}),
    /**
     * The names of the job's `secretEnv` variables, sorted; null when it has none. The values are
     * never here: they are sealed in job_secrets until the job ends.
     */
    secretEnvNames: jsonb('secret_env_names').$type<string[]>(),
    cwd: text('cwd'),
    timeoutMs: integer('timeout_ms').notNull(),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    outputBytes: bigint('output_bytes', { mode: 'number' }).notNull().default(0),
    outputTruncated: boolean('output_truncated').notNull().default(false),
    /**
     * sha256 of the job's stored output (every chunk, both streams, in seq order: the bytes of
     * GET /v1/jobs/{id}/logs), written once the job is final by the first run summary that needs it
     * (runs/queries/hash-child-outputs.ts), so a summary never re-reads a child's bytes. Null: not
     * computed yet. LOUD: storing output clears it (logsink/insert-output-batch.ts), so a chunk
     * stored late can never leave a hash of bytes that are no longer all the bytes.
     */
    outputSha256: bytea('output_sha256'),
    /** Set by a cancel or a timeout; the executor's exit then ends the job with this status. */
    cancelReason: text('cancel_reason').$type<'canceled' | 'timed_out'>(),
    cancelGraceMs: integer('cancel_grace_ms'),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    /** Fencing token: bumped on every start, so a stale attempt can never write the end. */
    attempt: integer('attempt').notNull().default(0),
    /** Worker that holds the job (for local jobs, where its process group lives). */
    workerId: text('worker_id'),
    /** When the agent confirmed it started the command (a job it then forgets was lost, not undelivered). */
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    createdBy: text('created_by'),
    /** The user who submitted it (null: the bootstrap admin token, or before users existed); visibility keys on it. */
    ownerId: text('owner_id'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    parentId: text('parent_id'),
    /** The fleet run this job is a child of (null: a single job). */
    runId: text('run_id'),
    /** The child's place in its run (0-based, targets sorted by kind then name): canaries are the first. */
    runIndex: integer('run_index'),
    /** The child's target as the run resolved it: an agent's name or a host's name@environment, and its kind. */
    targetName: text('target_name'),
    targetKind: text('target_kind').$type<TargetKind>(),
    /**
     * When the job was handed to the queue. A single job is released as it is inserted; a run's
     * child is held (null) until its run's rate control lets it go (runs/roll-up). The reconciler
     * only ever enqueues released jobs.
     */
    releasedAt: timestamp('released_at', { withTimezone: true }).default(sql`clock_timestamp()`),
    /**
     * Not before this time (issue 14 `runAt`; a run's child carries its run's, for display). A single
     * job with a future `run_at` is inserted held (`released_at` null) and released by the workers'
     * release loop when it comes (jobs/run-at/release-due-jobs.ts); a run's child is released by its
     * run's roll-up, which releases nothing before the run's `run_at`. Null: as soon as possible.
     */
    runAt: timestamp('run_at', { withTimezone: true }),
    /**
     * 1 (lowest) to 10 (highest): the order of starts among waiting jobs, in BullMQ (domain
     * bullPriority) and in a limited target's line (jobs/target-gate/line.ts). A run's children have their run's.
     */
    priority: integer('priority').notNull().default(5),
    /**
     * The retry policy, resolved (domain/retry-policy.ts; null: never retried). Read by the
     * lifecycle's one writer when an attempt ends (jobs/lifecycle/retry.ts), never changed after insert.
     */
    retry: jsonb('retry').$type<RetryPolicy>(),
    /**
     * While the job waits for its next attempt (`queued`, held: `released_at` null): when that
     * attempt may start. Written by the `retry` transition; the workers' release loop releases the
     * job once it has come (jobs/retry/release-due-retries.ts). Kept after the release, shown only
     * while the job is `queued`.
     */
    retryAt: timestamp('retry_at', { withTimezone: true }),
    /**
     * The saved command (issue 15) this job ran, by name and version (command_versions): the
     * exact script and parameter declarations, whatever changed since. Null: not from a command.
     */
    commandName: text('command_name'),
    commandVersion: integer('command_version'),
    /**
     * Retention (issue 14): days the job and its output are kept once it has ended, instead of
     * VMO_RETENTION_DAYS and VMO_OUTPUT_RETENTION_DAYS. Null: those defaults. A run's children have
     * their run's. Read only by the retention pass (retention/).
     */
    retainDays: integer('retain_days'),
    /**
     * When retention deleted the job's output (job_output rows, every attempt): the job stays,
     * shown with `outputExpired`, and its logs answer 410 `output_expired`. One writer: the
     * retention pass (retention/expire-output.ts). Null: the output is (or is still being) kept.
     */
    outputExpiredAt: timestamp('output_expired_at', { withTimezone: true }),
    /** Overrides the worker's VMO_DISPATCH_TIMEOUT_MS for this job (a run's dispatchTimeoutMs). */
    dispatchTimeoutMs: integer('dispatch_timeout_ms'),
    /** A run child's offline policy: `skip` or `fail` at once when its agent is offline; null waits (`wait`). */
    offline: text('offline').$type<'skip' | 'fail'>(),
    /** The transaction that last changed `status` (a trigger sets it): run streams resume on it. */
    statusXid: xid8('status_xid').notNull().default(sql`pg_current_xact_id()`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    // GET /v1/jobs (newest first, keyset on (created_at, id)).
    index('jobs_created_idx').on(t.createdAt.desc(), t.id.desc()),
    // GET /v1/jobs?status=…
    index('jobs_status_created_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
    // GET /v1/jobs?agent=… and the agent's running-job count.
    index('jobs_agent_created_idx').on(t.agentId, t.createdAt.desc(), t.id.desc()),
    // GET /v1/jobs?target=<host> (an ssh job's resolved host), newest first like the agent index.
    index('jobs_host_created_idx').on(t.hostId, t.createdAt.desc(), t.id.desc()),
    // GET /v1/jobs?label=k=v and ?labels=<selector>: `labels @> '{"k":"v"}'` (=, in) and `labels ? k` (exists).
    index('jobs_labels_gin_idx').using('gin', t.labels),
    // Listings of what a user may see: their own jobs, newest first.
    index('jobs_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()).where(sql`owner_id is not null`),
    // A run's children in order (release, listing, roll-up counts).
    index('jobs_run_idx').on(t.runId, t.runIndex).where(sql`run_id is not null`),
    // A run stream's idle poll (runs/stream/sql/read-run-quiet.ts): a run's children whose status
    // changed since a snapshot (status_xid at or above its xmin, a seek per status) and its running ones.
    index('jobs_run_status_idx').on(t.runId, t.status, t.statusXid).where(sql`run_id is not null`),
    // Reconciler and janitor: the few non-terminal jobs.
    index('jobs_active_idx').on(t.status).where(sql`status in ('queued', 'running')`),
    // The per-target gate (jobs/target-gate/line.ts): one target's running jobs and its line (released
    // `queued` jobs in line order: priority highest first, then (released_at, id)), neither its history
    // (jobs_agent_created_idx) nor every active job (jobs_active_idx). Agents and hosts apart: the gate
    // filters on the target's own column. `-priority` (an expression) so that the whole line order is
    // ascending and "ahead of this job" is one row comparison, a range of the index (line.ts inLineSql).
    index('jobs_agent_line_idx').on(t.agentId, t.status, sql`(-${t.priority})`, t.releasedAt, t.id).where(sql`status in ('queued', 'running') and agent_id is not null`),
    index('jobs_host_line_idx').on(t.hostId, t.status, sql`(-${t.priority})`, t.releasedAt, t.id).where(sql`status in ('queued', 'running') and host_id is not null`),
    // The release loop (jobs/run-at/release-due-jobs.ts): single jobs held until their `run_at`, soonest first.
    index('jobs_run_at_idx').on(t.runAt, t.id).where(sql`status = 'queued' and released_at is null and run_id is null`),
    // The retry release (jobs/retry/release-due-retries.ts): jobs held until their next attempt, soonest first.
    index('jobs_retry_due_idx').on(t.retryAt, t.id).where(sql`status = 'queued' and released_at is null and retry_at is not null`),
    // The reconciler's walk over the released `queued` jobs, page after page (jobs/queries/sweeps.ts
    // queuedJobsOlderThan): each page a seek, not a sort of the whole backlog.
    index('jobs_released_idx').on(t.releasedAt, t.id).where(sql`status = 'queued' and released_at is not null`),
    // Retention (retention/due-jobs.ts): ended jobs oldest first, a seek to the cutoff, never a scan
    // of what is kept. Jobs on the defaults apart from those with their own retainDays (walked one
    // retain_days value at a time); the output expiry's own index holds only jobs whose output is still kept.
    index('jobs_retention_idx').on(t.finishedAt, t.id).where(sql`retain_days is null and status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped')`),
    index('jobs_retention_own_idx').on(t.retainDays, t.finishedAt, t.id).where(sql`retain_days is not null and status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped')`),
    index('jobs_output_retention_idx').on(t.finishedAt, t.id).where(sql`retain_days is null and output_expired_at is null and status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped')`),
  ],
);
