import type { Sql, TransactionSql } from 'postgres';
import { TERMINAL_STATUSES } from '../../domain/job-status.ts';
import { TERMINAL_RUN_STATUSES } from '../../domain/run-status.ts';
import { runSecretEnvelope } from './seal-secret-env.ts';

/*
 * The job_secrets table (db/schema/job-secrets.ts): one sealed row per job with secretEnv, written
 * in the job's own insert transaction and deleted once the job has ended; and run_secrets
 * (db/schema/run-secrets.ts): one sealed row per run with secretEnv, read by each child, written
 * with the run and deleted once the run has ended. Nothing here ever sees a value in the clear.
 */

/** In the transaction that inserts the job: the job never exists without its secrets. */
export async function insertJobSecrets(tx: Sql | TransactionSql, jobId: string, sealed: Buffer): Promise<void> {
  await tx`insert into job_secrets (job_id, sealed) values (${jobId}, ${sealed})`;
}

/**
 * The sealed secretEnv of a job, or undefined once it has been dropped (the job ended; for a
 * run's child, the run ended). A run's child has no row of its own: it reads its run's, sealed
 * once for every child (run_secrets), in the envelope openSecretEnv opens (seal-secret-env.ts).
 * One statement either way: two primary-key lookups.
 */
export async function readSealedSecretEnv(sql: Sql, jobId: string): Promise<Buffer | undefined> {
  const [row] = await sql<{ sealed: Buffer; run_id: string | null }[]>`
    select sealed, null::text as run_id from job_secrets where job_id = ${jobId}
    union all
    select rs.sealed, rs.run_id from jobs j join run_secrets rs on rs.run_id = j.run_id where j.id = ${jobId}
    limit 1`;
  if (!row) return undefined;
  return row.run_id === null ? row.sealed : runSecretEnvelope(row.run_id, row.sealed);
}

/** In the transaction that inserts the run and its children: no child exists without its run's secrets. */
export async function insertRunSecrets(tx: Sql | TransactionSql, runId: string, sealed: Buffer): Promise<void> {
  await tx`insert into run_secrets (run_id, sealed) values (${runId}, ${sealed})`;
}

/** The run ended (every child has): its secrets go. Idempotent. */
export async function dropRunSecrets(sql: Sql | TransactionSql, runId: string): Promise<boolean> {
  const rows = await sql`delete from run_secrets where run_id = ${runId} returning run_id`;
  return rows.length > 0;
}

/** The job ended: its secrets go. Idempotent. */
export async function dropJobSecrets(sql: Sql, jobId: string): Promise<boolean> {
  const rows = await sql`delete from job_secrets where job_id = ${jobId} returning job_id`;
  return rows.length > 0;
}

/**
 * The sweep: secrets of jobs that ended where no observer saw it (ended by an API node, by a
 * process that died before its observer ran, or whose delete failed). job_secrets holds only the
 * jobs with secrets not yet ended, so this reads a handful of rows. Returns how many went.
 */
export async function dropEndedJobSecrets(sql: Sql, limit = 1000): Promise<number> {
  const rows = await sql`
    delete from job_secrets where job_id in (
      select s.job_id from job_secrets s join jobs j on j.id = s.job_id
      where j.status in ${sql(TERMINAL_STATUSES as unknown as string[])}
      limit ${limit})
    returning job_id`;
  // And the runs that ended where the roll-up's own delete did not happen (a run ended before
  // this version, or by hand). run_secrets holds only runs with secrets not yet ended.
  const runRows = await sql`
    delete from run_secrets where run_id in (
      select s.run_id from run_secrets s join runs r on r.id = s.run_id
      where r.status in ${sql(TERMINAL_RUN_STATUSES as unknown as string[])}
      limit ${limit})
    returning run_id`;
  return rows.length + runRows.length;
}
