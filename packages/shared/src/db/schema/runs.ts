import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { RetryPolicy } from '../../domain/retry-policy.ts';
import type { OfflinePolicy, ResolvedStrategy, RunStatus } from '../../domain/run-status.ts';
import { xid8 } from './xid8.ts';

/** What POST /v1/runs was asked to target, kept as given (the resolved list is the children). */
export interface RunTargetsSpec {
  selector?: string;
  kinds?: ('agent' | 'ssh')[];
  agents?: string[];
  hosts?: string[];
}

/**
 * A fleet run: one command, one child job per target (jobs.run_id). Its status is derived from
 * its children by the roll-up (runs/roll-up), the only writer of `status`; nothing here is a
 * counter kept in memory, so any process can take the roll-up over after a crash.
 */
export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    status: text('status').$type<RunStatus>().notNull(),
    command: text('command').notNull(),
    env: jsonb('env').$type<Record<string, string>>().notNull().default({}),
    cwd: text('cwd'),
    timeoutMs: integer('timeout_ms').notNull(),
    targets: jsonb('targets').$type<RunTargetsSpec>().notNull(),
    /** The strategy as the operator gave it (`"10%"` stays `"10%"`), for display. */
    strategyInput: jsonb('strategy_input').$type<Record<string, unknown>>().notNull().default({}),
    /** The strategy resolved against the number of targets: what the roll-up obeys. */
    strategy: jsonb('strategy').$type<ResolvedStrategy>().notNull(),
    offline: text('offline').$type<OfflinePolicy>().notNull().default('wait'),
    dispatchTimeoutMs: integer('dispatch_timeout_ms'),
    /** Not before this time (issue 14): the roll-up releases no child before it (runs/decide-roll-up.ts); null: at once. */
    runAt: timestamp('run_at', { withTimezone: true }),
    /** 1 (lowest) to 10 (highest); every child has it (jobs.priority). */
    priority: integer('priority').notNull().default(5),
    /** Every child's retry policy, resolved (jobs.retry; shown on the run). Null: children are never retried. */
    retry: jsonb('retry').$type<RetryPolicy>(),
    /** Retention (issue 14): days the run and its children are kept once ended (every child has it too); null: VMO_RETENTION_DAYS. */
    retainDays: integer('retain_days'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    /** The names of the run's `secretEnv` variables, sorted; null when it has none. The values are sealed in run_secrets until the run ends. */
    secretEnvNames: jsonb('secret_env_names').$type<string[]>(),
    /** The saved command (issue 15) the run ran, by name and version; every child records it too. Null: not from a command. */
    commandName: text('command_name'),
    commandVersion: integer('command_version'),
    createdBy: text('created_by'),
    /** The user who submitted it (null: the bootstrap admin token); visibility keys on it. */
    ownerId: text('owner_id'),
    /** Number of children (targets), fixed at submission. */
    total: integer('total').notNull(),
    /** Why a run ended `failed` without every failure being its children's own (`max_errors_exceeded`, `canary_failed`). */
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** When every canary had succeeded: the rest may start `bakeMs` after it. */
    canaryPassedAt: timestamp('canary_passed_at', { withTimezone: true }),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    cancelGraceMs: integer('cancel_grace_ms'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** The transaction that last changed `status` (a trigger sets it): run streams resume on it. */
    statusXid: xid8('status_xid').notNull().default(sql`pg_current_xact_id()`),
  },
  (t) => [
    // GET /v1/runs (newest first, keyset on (created_at, id)), with or without ?status=.
    index('runs_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('runs_status_created_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
    // The roll-up sweep: the few runs not yet final.
    index('runs_active_idx').on(t.status).where(sql`status in ('queued', 'running')`),
    // Retention (retention/delete-runs.ts): ended runs oldest first, on the default or their own retainDays.
    index('runs_retention_idx').on(t.finishedAt, t.id).where(sql`retain_days is null and status in ('succeeded', 'failed', 'canceled')`),
    index('runs_retention_own_idx').on(t.retainDays, t.finishedAt, t.id).where(sql`retain_days is not null and status in ('succeeded', 'failed', 'canceled')`),
  ],
);
