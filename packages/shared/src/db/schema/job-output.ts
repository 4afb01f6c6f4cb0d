import { sql } from 'drizzle-orm';
import { integer, pgTable, primaryKey, smallint, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { xid8 } from './xid8.ts';

/**
 * One row per output chunk. `seq` is dense per job attempt and set by the producer, so the primary
 * key makes a retransmit harmless (`ON CONFLICT DO NOTHING`). The key also serves every log read
 * (`WHERE job_id = $1 AND attempt = $2 AND seq > $3 ORDER BY seq`).
 *
 * LOUD: `attempt` keeps the output of a retried job's attempts apart (issue 14): each attempt's
 * seqs start at 0 again. It is set by the log sink from the attempt its producer was fenced on,
 * and the sink stores a chunk only while that attempt is the job's current one
 * (logsink/insert-output-batch.ts), so output of attempt 1 can never land in attempt 2.
 */
export const jobOutput = pgTable(
  'job_output',
  {
    jobId: text('job_id').notNull(),
    /** The job's attempt that wrote it (jobs.attempt when it was stored; 1 for rows older than retries). */
    attempt: integer('attempt').notNull().default(1),
    seq: integer('seq').notNull(),
    /** 1 = stdout, 2 = stderr. */
    stream: smallint('stream').notNull(),
    data: bytea('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    /** The inserting transaction: a run stream resumes on it (see xid8.ts). Never set by a writer. */
    xid: xid8('xid').notNull().default(sql`pg_current_xact_id()`),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.attempt, t.seq] })],
);
