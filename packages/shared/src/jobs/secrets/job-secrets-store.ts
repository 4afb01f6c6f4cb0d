import type { Sql, TransactionSql } from 'postgres';
import { TERMINAL_STATUSES } from '../../domain/job-status.ts';

/*
 * The job_secrets table (db/schema/job-secrets.ts): one sealed row per job with secretEnv, written
 * in the job's own insert transaction and deleted once the job has ended. Nothing here ever sees
 * a value in the clear.
 */

/** In the transaction that inserts the job: the job never exists without its secrets. */
export async function insertJobSecrets(tx: Sql | TransactionSql, jobId: string, sealed: Buffer): Promise<void> {
  await tx`insert into job_secrets (job_id, sealed) values (${jobId}, ${sealed})`;
}

/** The sealed secretEnv of a job, or undefined once it has been dropped (the job ended). */
export async function readSealedSecretEnv(sql: Sql, jobId: string): Promise<Buffer | undefined> {
  const [row] = await sql<{ sealed: Buffer }[]>`select sealed from job_secrets where job_id = ${jobId}`;
  return row?.sealed;
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
  return rows.length;
}
