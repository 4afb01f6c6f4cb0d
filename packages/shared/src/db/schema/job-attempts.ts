import { sql } from 'drizzle-orm';
import { bigint, boolean, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { JobStatus } from '../../domain/job-status.ts';

/**
 * The attempts of a retried job that are over (issue 14): one row per attempt the `retry`
 * transition moved past, written by that transition's own statement (jobs/lifecycle/sql/retry-job.ts)
 * in the same UPDATE that puts the job back to `queued`, so a job is never retried without its
 * attempt on record, nor recorded without being retried. The attempt that is current (running,
 * ended for good, or about to start) is the `jobs` row itself; GET /v1/jobs/{id}/attempts shows
 * both (jobs/queries/job-attempts.ts). A job never retried has no row here.
 */
export const jobAttempts = pgTable(
  'job_attempts',
  {
    jobId: text('job_id').notNull(),
    attempt: integer('attempt').notNull(),
    /** How the attempt ended: `failed`, `timed_out` or `lost` (what it would have ended the job with). */
    status: text('status').$type<JobStatus>().notNull(),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    outputBytes: bigint('output_bytes', { mode: 'number' }).notNull().default(0),
    outputTruncated: boolean('output_truncated').notNull().default(false),
    /** Where it ran: the worker that held it (null for an attempt that never started: its agent stayed offline). */
    workerId: text('worker_id'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    /** When the next attempt was due: `finished_at` plus the backoff drawn for it (same clock, same statement). */
    retryAt: timestamp('retry_at', { withTimezone: true }).notNull(),
  },
  // GET /v1/jobs/{id}/attempts: a job's attempts in order.
  (t) => [primaryKey({ columns: [t.jobId, t.attempt] })],
);
