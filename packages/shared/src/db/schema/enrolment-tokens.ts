import { sql } from 'drizzle-orm';
import { integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * Tokens an agent exchanges on its first connect for its own credential (issue 11 §Agent
 * enrolment). Never authenticate a running agent. `uses` is counted under a conditional UPDATE
 * (`uses < max_uses and expires_at > now()`), so concurrent enrolments cannot pass `max_uses`.
 */
export const enrolmentTokens = pgTable(
  'enrolment_tokens',
  {
    id: text('id').primaryKey(),
    name: text('name'),
    tokenHash: text('token_hash').notNull(),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    maxUses: integer('max_uses'),
    uses: integer('uses').notNull().default(0),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('enrolment_tokens_hash_idx').on(t.tokenHash)],
);
