import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, primaryKey, smallint, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';

/**
 * Interactive shell sessions (issue 17, protocol/SHELL.md §S7): who opened one, where, when, how it
 * ended. Written by the API: the row at the open (before the upgrade), the end by the node
 * holding the agent when the agent reports `shell_exit` (or reaps it).
 */
export const shellSessions = pgTable(
  'shell_sessions',
  {
    id: text('id').primaryKey(),
    /** 'agent' today; 'host' and 'workspace' later. */
    targetKind: text('target_kind').notNull(),
    /** The agent's id (agents.id). */
    targetId: text('target_id').notNull(),
    /** Its name when opened, for listings after a rename or revocation. */
    targetName: text('target_name').notNull(),
    /** users.id of who opened it; null for the bootstrap admin. */
    userId: text('user_id'),
    /** The user's name (or `admin`) when opened. */
    userName: text('user_name').notNull(),
    /** `?command=`, or null for the login shell. */
    command: text('command'),
    cols: integer('cols').notNull(),
    rows: integer('rows').notNull(),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    /** Output bytes stored in shell_output (the cap stops it growing). */
    recordedBytes: bigint('recorded_bytes', { mode: 'number' }).notNull().default(0),
    /**
     * A host shell's: the API node holding its terminal (shells/host-shells.ts), whose presence key
     * says whether it still lives. Null for an agent's session (the agent holds it).
     */
    holderNode: text('holder_node'),
    /**
     * Why it ended (ShellEndReason: `exited`, `lost`, `server_restarted`, `server_lost`); null while
     * open, and for sessions ended before the column existed.
     */
    endReason: text('end_reason'),
  },
  (t) => [
    // GET /v1/sessions: newest first, keyset on (opened_at, id), filtered by target and user.
    index('shell_sessions_opened_idx').on(t.openedAt.desc(), t.id.desc()),
    index('shell_sessions_target_idx').on(t.targetId, t.openedAt.desc()),
    index('shell_sessions_user_idx').on(t.userId, t.openedAt.desc()),
    // The host-shell sweep (shells/end-orphaned-host-shells.ts): the nodes holding open host
    // sessions, and the open sessions of one node, whose presence key is gone.
    index('shell_sessions_open_holder_idx').on(t.holderNode).where(sql`ended_at is null and holder_node is not null`),
  ],
);

/**
 * A session's recorded bytes, keyed by their byte offset (SHELL.md §S3): a replayed chunk is the
 * same key (`ON CONFLICT DO NOTHING`). `stream` 1 is output, 0 input (only with
 * VMO_SHELL_RECORD_INPUT=true; input has its own offsets). The key serves
 * GET /v1/sessions/{id}/logs (`where session_id = $1 and stream = 1 order by offset`).
 */
export const shellOutput = pgTable(
  'shell_output',
  {
    sessionId: text('session_id').notNull(),
    stream: smallint('stream').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    data: bytea('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.stream, t.offset] })],
);
