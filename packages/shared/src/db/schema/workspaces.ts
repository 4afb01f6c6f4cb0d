import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { OperationReason, OperationStatus, OperationType, ProviderKind, SnapshotStatus, WorkspaceSessionStatus } from '../../domain/workspace.ts';

/**
 * Workspaces (issue 18). A template is a name and a current version; each change makes a new
 * version row (never edited), and a workspace records the version it was built from.
 */
export const templates = pgTable(
  'templates',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** The version new workspaces (and a rebuild) use: the highest template_versions.version. */
    currentVersion: integer('current_version').notNull().default(1),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    /** DELETE keeps the row (workspaces refer to its versions) and frees the name. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('templates_name_live_idx').on(t.name).where(sql`deleted_at is null`)],
);

export const templateVersions = pgTable(
  'template_versions',
  {
    templateId: text('template_id')
      .notNull()
      .references(() => templates.id),
    version: integer('version').notNull(),
    provider: text('provider').$type<ProviderKind>().notNull(),
    /** Provider-specific, validated by the provider's schema when written. */
    config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
    /** Parameter definitions: [{name, description?, default?, required?}]; a workspace gives values. */
    params: jsonb('params').$type<{ name: string; description?: string; default?: string; required?: boolean }[]>().notNull().default([]),
    defaultTtlMs: bigint('default_ttl_ms', { mode: 'number' }),
    activityBumpMs: bigint('activity_bump_ms', { mode: 'number' }),
    idleTimeoutMs: bigint('idle_timeout_ms', { mode: 'number' }),
    failureTtlMs: bigint('failure_ttl_ms', { mode: 'number' }),
    timeTilDormantMs: bigint('time_til_dormant_ms', { mode: 'number' }),
    timeTilDormantAutodeleteMs: bigint('time_til_dormant_autodelete_ms', { mode: 'number' }),
    /** A deadline is never moved past start + this (Coder's max_deadline); null: no cap. */
    maxDeadlineMs: bigint('max_deadline_ms', { mode: 'number' }),
    /** Provisioned but no agent within this: health `unhealthy`. */
    agentConnectTimeoutMs: bigint('agent_connect_timeout_ms', { mode: 'number' }).notNull().default(120_000),
    costPerHour: numeric('cost_per_hour', { precision: 12, scale: 4 }),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.version] })],
);

export const workspaces = pgTable(
  'workspaces',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** users.id; null: the bootstrap admin. */
    ownerId: text('owner_id'),
    ownerName: text('owner_name').notNull(),
    templateId: text('template_id').notNull(),
    /** The version it was (re)built from. */
    templateVersion: integer('template_version').notNull(),
    params: jsonb('params').$type<Record<string, string>>().notNull().default({}),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    /** Null: the template's default (and none if it has none). */
    ttlMs: bigint('ttl_ms', { mode: 'number' }),
    idleTimeoutMs: bigint('idle_timeout_ms', { mode: 'number' }),
    /** Cron expression and IANA zone of autostart; null: none. */
    autostartCron: text('autostart_cron'),
    autostartTimezone: text('autostart_timezone').notNull().default('UTC'),
    /** The next autostart tick not yet handled (the lifecycle loop moves it past now). */
    autostartNextAt: timestamp('autostart_next_at', { withTimezone: true }),
    /** Its agent (agents.id, created with the workspace, reserved labels workspace=<name>, workspace-id=<id>, workspace-owner=<owner id or admin>: domain/workspace-agent-labels.ts); its token is rotated at each start. */
    agentId: text('agent_id'),
    /** What the provider returned last, handed back to it next time (opaque to the control plane). */
    providerState: jsonb('provider_state').$type<Record<string, unknown>>(),
    /** Stop at this time (start + TTL, bumped by activity); null: no deadline. */
    deadlineAt: timestamp('deadline_at', { withTimezone: true }),
    /** The deadline is never moved past this (start + template's maxDeadlineMs). */
    maxDeadlineAt: timestamp('max_deadline_at', { withTimezone: true }),
    /** The last time a shell session or a job was seen on it (idle stop and dormancy read this). */
    lastActiveAt: timestamp('last_active_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    dormantAt: timestamp('dormant_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    /** Set when its delete operation succeeds (or an orphan delete): the row stays for usage and history; the name is free again. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('workspaces_owner_name_live_idx').on(sql`coalesce(${t.ownerId}, '')`, t.name).where(sql`deleted_at is null`),
    index('workspaces_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('workspaces_owner_idx').on(t.ownerId, t.createdAt.desc()),
    index('workspaces_agent_idx').on(t.agentId),
  ],
);

/**
 * Every action on a workspace. LOUD: `workspace_operations_one_active_idx` is what makes a second
 * action a 409 and two lifecycle loops ticking together create one operation; it must list exactly
 * ACTIVE_OPERATION_STATUSES (domain/workspace.ts).
 */
export const workspaceOperations = pgTable(
  'workspace_operations',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    type: text('type').$type<OperationType>().notNull(),
    status: text('status').$type<OperationStatus>().notNull().default('pending'),
    reason: text('reason').$type<OperationReason>().notNull().default('user'),
    /** users.id of who asked (null: the bootstrap admin or the lifecycle loop, see reason). */
    actorId: text('actor_id'),
    actorName: text('actor_name'),
    /** The template version it builds from (create, rebuild, start). */
    templateVersion: integer('template_version'),
    /** Type-specific input: { snapshotId } for snapshot/restore. */
    input: jsonb('input').$type<Record<string, unknown>>().notNull().default({}),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** The worker running it (claimed with SKIP LOCKED); a stale progressAt lets another take it over. */
    claimedBy: text('claimed_by'),
    /** Refreshed while the worker makes progress; no progress for a bounded time fails it "timed out". */
    progressAt: timestamp('progress_at', { withTimezone: true }),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    startedAt: timestamp('started_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('workspace_operations_one_active_idx').on(t.workspaceId).where(sql`status in ('pending', 'running', 'canceling')`),
    // The latest operation of a workspace (its status), and its history (usage).
    index('workspace_operations_workspace_idx').on(t.workspaceId, t.createdAt.desc()),
    // The engine's claim: pending ones oldest first, and running ones whose progress went stale.
    index('workspace_operations_active_idx').on(t.createdAt).where(sql`status in ('pending', 'running', 'canceling')`),
  ],
);

/** An operation's log lines (streamed live on the bus, kept here for GET /v1/operations/{id}). */
export const workspaceOperationLogs = pgTable(
  'workspace_operation_logs',
  {
    operationId: text('operation_id').notNull(),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    line: text('line').notNull(),
  },
  (t) => [primaryKey({ columns: [t.operationId, t.seq] })],
);

/** Scheduled sessions: started prepareLeadMs before startAt, stopped at startAt + duration even with activity. */
export const workspaceSessions = pgTable(
  'workspace_sessions',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    startAt: timestamp('start_at', { withTimezone: true }).notNull(),
    durationMs: bigint('duration_ms', { mode: 'number' }).notNull(),
    prepareLeadMs: bigint('prepare_lead_ms', { mode: 'number' }).notNull().default(300_000),
    status: text('status').$type<WorkspaceSessionStatus>().notNull().default('scheduled'),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    canceledAt: timestamp('canceled_at', { withTimezone: true }),
    /** The operations it asked for (its start, its stop). */
    startOperationId: text('start_operation_id'),
    stopOperationId: text('stop_operation_id'),
  },
  (t) => [
    index('workspace_sessions_workspace_idx').on(t.workspaceId, t.startAt),
    // The lifecycle loop: sessions still to prepare or end.
    index('workspace_sessions_due_idx').on(t.startAt).where(sql`status in ('scheduled', 'preparing', 'active')`),
  ],
);

export const workspaceSnapshots = pgTable(
  'workspace_snapshots',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    name: text('name').notNull(),
    status: text('status').$type<SnapshotStatus>().notNull().default('pending'),
    /** What the provider returned (for netns: the archive's path); handed back to restore. */
    providerRef: jsonb('provider_ref').$type<Record<string, unknown>>(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    operationId: text('operation_id'),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [uniqueIndex('workspace_snapshots_name_idx').on(t.workspaceId, t.name), index('workspace_snapshots_workspace_idx').on(t.workspaceId, t.createdAt.desc())],
);
