import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { runs } from './runs.ts';

/**
 * A run's `secretEnv`, sealed ONCE for the whole run (AES-256-GCM under VMO_SECRET_KEY,
 * secrets/secret-box.ts; the context is the run id), which every child reads through its
 * `run_id` (jobs/secrets/job-secrets-store.ts readSealedSecretEnv). Kept apart from `runs` for the
 * reason job_secrets is kept apart from `jobs`: no read of runs can carry it.
 *
 * One row per run with secrets, written in the transaction that writes the run and its children,
 * deleted in the roll-up transaction that makes the run final (every child has ended by then),
 * and by the worker's sweep for a run that ended where that delete did not happen.
 *
 * Why per run and not one job_secrets row per child: a secretEnv may be 64 KiB and a run 10,000
 * children; per child that is 10,000 seals and up to 640 MiB written inside the submission's
 * transaction, per run it is one seal and one row.
 */
export const runSecrets = pgTable('run_secrets', {
  runId: text('run_id')
    .primaryKey()
    .references(() => runs.id, { onDelete: 'cascade' }),
  sealed: bytea('sealed').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
});
