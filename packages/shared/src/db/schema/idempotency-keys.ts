import { sql } from 'drizzle-orm';
import { index, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * `Idempotency-Key` of POST /v1/jobs (IETF draft, as Stripe does it): per caller, the key, a hash
 * of the request it came with and the job it created. Kept 24 h.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    principal: text('principal').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    jobId: text('job_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // The lookup on every keyed submission, and the conflict target that serialises concurrent ones.
    primaryKey({ columns: [t.principal, t.key] }),
    // The janitor's expiry sweep.
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
);
