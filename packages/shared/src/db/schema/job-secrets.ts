import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { jobs } from './jobs.ts';

/**
 * A job's `secretEnv`, sealed (AES-256-GCM under VMO_SECRET_KEY, secrets/secret-box.ts; the
 * context is the job id), kept apart from `jobs` so that no read of jobs (a listing, a view, a
 * `select *`) can ever carry it. One row per job that has secrets, from its insert (same
 * transaction) until it ends: then the row is deleted (jobs/secrets/drop-job-secrets.ts).
 */
export const jobSecrets = pgTable('job_secrets', {
  // The primary key serves the one lookup (the worker that runs the job) and the delete at its end.
  jobId: text('job_id')
    .primaryKey()
    .references(() => jobs.id, { onDelete: 'cascade' }),
  sealed: bytea('sealed').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
});
