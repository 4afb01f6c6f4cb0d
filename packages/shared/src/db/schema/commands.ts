import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Saved commands (issue 15): a named script with typed parameters. The row is the name and a
 * pointer to its latest version; what the command IS lives in `command_versions`, one immutable
 * row per change. A job or run started from a command records the name and version it ran
 * (jobs.command_name, jobs.command_version), which always finds the exact script, even after
 * later edits or a delete.
 *
 * LOUD: a name's history is never rewritten. DELETE only sets `deleted_at` (its versions stay
 * readable for the jobs that ran them); POST of a deleted name brings it back as the next version
 * of the same history, never as version 1 again, so (name, version) names one script forever.
 */
export const commands = pgTable(
  'commands',
  {
    name: text('name').primaryKey(),
    /** The newest row of command_versions for this name: what GET answers and a run without `version` runs. */
    latestVersion: integer('latest_version').notNull(),
    /** Who created it (users.id; null: the bootstrap admin): they and admins may change or delete it. */
    ownerId: text('owner_id'),
    createdBy: text('created_by'),
    /** Set by DELETE: hidden from listings and refused to run; its versions stay readable. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    // GET /v1/commands (by name, keyset on name) and the machine listings: the live commands only.
    index('commands_live_name_idx').on(t.name).where(sql`deleted_at is null`),
  ],
);

/** One version of a command, written once and never changed (POST and PUT each add one). */
export const commandVersions = pgTable(
  'command_versions',
  {
    name: text('name').notNull(),
    version: integer('version').notNull(),
    description: text('description'),
    /** The shell text, as given: parameters are never pasted into it (they reach it as VMO_PARAM_<NAME>). */
    script: text('script').notNull(),
    /** The parameter declarations (commands/command-input.ts CommandParam), in the order given. */
    params: jsonb('params').$type<Record<string, unknown>[]>().notNull().default([]),
    /** A job target ({type: local|agent|ssh}) or a run's targets ({selector, kinds, agents, hosts}); null: none. */
    defaultTarget: jsonb('default_target').$type<Record<string, unknown>>(),
    timeoutMs: integer('timeout_ms'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    /** Who wrote this version (users.id; null: the bootstrap admin), and their name. */
    authorId: text('author_id'),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    // GET /v1/commands/{name}/versions (newest first) and every read of one version: the primary key.
    primaryKey({ columns: [t.name, t.version] }),
    foreignKey({ columns: [t.name], foreignColumns: [commands.name], name: 'command_versions_name_fk' }),
  ],
);
