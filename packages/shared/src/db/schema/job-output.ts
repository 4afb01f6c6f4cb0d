import { sql } from 'drizzle-orm';
import { integer, pgTable, primaryKey, smallint, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';

/**
 * One row per output chunk. `seq` is dense per job and set by the producer, so the primary key
 * makes a retransmit harmless (`ON CONFLICT DO NOTHING`). The key also serves every log read
 * (`WHERE job_id = $1 AND seq > $2 ORDER BY seq`).
 */
export const jobOutput = pgTable(
  'job_output',
  {
    jobId: text('job_id').notNull(),
    seq: integer('seq').notNull(),
    /** 1 = stdout, 2 = stderr. */
    stream: smallint('stream').notNull(),
    data: bytea('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);
