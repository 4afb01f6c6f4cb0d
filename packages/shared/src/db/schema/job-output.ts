import { sql } from 'drizzle-orm';
import { integer, pgTable, primaryKey, smallint, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { xid8 } from './xid8.ts';

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
    /** The inserting transaction: a run stream resumes on it (see xid8.ts). Never set by a writer. */
    xid: xid8('xid').notNull().default(sql`pg_current_xact_id()`),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);
