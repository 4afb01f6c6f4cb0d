import { sql } from 'drizzle-orm';
import { integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    /** Set at registration by an operator. */
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    /**
     * What the agent said about itself in its last `hello` (its --labels). Each hello replaces it,
     * so reconnects cannot pile keys up; shown merged under `labels` (the operator's word wins).
     */
    reportedLabels: jsonb('reported_labels').$type<Record<string, string>>().notNull().default({}),
    hostname: text('hostname'),
    version: text('version'),
    os: text('os'),
    arch: text('arch'),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    /** At most this many of its jobs running at once; the rest wait `queued`, first in first out. Null: no limit. */
    maxConcurrentJobs: integer('max_concurrent_jobs'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    /** Revoked agents keep their row (jobs refer to them) but their name becomes free again. */
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** The enrolment token (enrolment_tokens.id) that created it (POST /v1/agent/enrol); null for one registered by POST /v1/agents. */
    enrolmentTokenId: text('enrolment_token_id'),
    /**
     * sha256 of the random nonce `vmo-agent --enrol` sent (kept in its state dir before the first
     * attempt): a retry with the same enrolment token, name and nonce, whose earlier answer was
     * lost, gets this agent a new token instead of a 409 (agents/enrol-agent.ts). Never the nonce.
     */
    enrolNonceHash: text('enrol_nonce_hash'),
  },
  (t) => [
    // POST /v1/agents name check and name → id resolution for job targets.
    uniqueIndex('agents_name_live_idx').on(t.name).where(sql`revoked_at is null`),
    // Authentication of the agent's upgrade request.
    uniqueIndex('agents_token_hash_idx').on(t.tokenHash),
  ],
);
