import { sql } from 'drizzle-orm';
import { check, index, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { DiscoverySource, MakeTarget, ProjectTargetKind } from '../../domain/make-target.ts';
import { agents } from './agents.ts';
import { hosts } from './hosts.ts';

/**
 * Makefile projects (issue 15 §Projects): a directory with a Makefile on one machine, named by an
 * alias unique across the control plane (the routes are /v1/projects/{alias}). The machine is
 * stored by id (agent_id or host_id), so renaming it keeps its projects; a host's deletion takes
 * its projects with it (agents are revoked, never deleted). `targets` caches the last discovery.
 */
export const projects = pgTable(
  'projects',
  {
    id: text('id').primaryKey(),
    alias: text('alias').notNull(),
    /** Absolute, or `~`/`~/…` (the home of whoever runs jobs there). */
    dir: text('dir').notNull(),
    targetKind: text('target_kind').$type<ProjectTargetKind>().notNull(),
    agentId: text('agent_id').references(() => agents.id, { onDelete: 'cascade' }),
    hostId: text('host_id').references(() => hosts.id, { onDelete: 'cascade' }),
    /** Run in `dir` to list the targets (mkcli's `<alias> --list-targets`); null: GNU make's database. */
    listCommand: text('list_command'),
    /** The last discovery's targets; null until one succeeded (or since dir or listCommand changed). */
    targets: jsonb('targets').$type<MakeTarget[]>(),
    defaultGoal: text('default_goal'),
    discoverySource: text('discovery_source').$type<DiscoverySource>(),
    discoveredAt: timestamp('discovered_at', { withTimezone: true }),
    /** The job that found `targets`. */
    discoveryJobId: text('discovery_job_id'),
    createdBy: text('created_by'),
    /** users.id of who added it; null for the bootstrap admin. */
    ownerId: text('owner_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // GET/PATCH/DELETE /v1/projects/{alias}, the 409 project_exists, and the list's keyset on alias.
    uniqueIndex('projects_alias_idx').on(t.alias),
    // The cascade from a host's deletion, and the import's lookup of a machine's projects.
    index('projects_host_idx').on(t.hostId).where(sql`${t.hostId} is not null`),
    index('projects_agent_idx').on(t.agentId).where(sql`${t.agentId} is not null`),
    check(
      'projects_machine_check',
      sql`(${t.targetKind} = 'agent') = (${t.agentId} is not null) and (${t.targetKind} = 'ssh') = (${t.hostId} is not null) and ${t.targetKind} in ('local', 'agent', 'ssh')`,
    ),
  ],
);
