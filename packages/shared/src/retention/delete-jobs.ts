import type { Sql } from 'postgres';
import { jobEnded, runEnded } from './ended.ts';

/**
 * Delete ended jobs whose output is already gone (deleteOutputRows), with what else they own, in
 * one short transaction: their recorded attempts (job_attempts) and, by its foreign key, any
 * job_secrets row left. A last delete of output rows catches none in practice (the job was
 * flagged `output_expired_at` before its rows went, and the log sink refuses a flagged job's
 * chunks) and keeps a row from outliving its job if one ever came. Jobs only, never a status:
 * retention deletes what has ended and transitions nothing; `status in (ended)` is checked again.
 */
export async function deleteJobRows(sql: Sql, jobIds: readonly string[]): Promise<{ jobs: number; attempts: number }> {
  if (jobIds.length === 0) return { jobs: 0, attempts: 0 };
  const ids = jobIds as string[];
  return sql.begin(async (tx) => {
    await tx`delete from job_output where job_id = any(${ids}::text[])`;
    const attempts = await tx`delete from job_attempts where job_id = any(${ids}::text[])`;
    const jobs = await tx`delete from jobs where id = any(${ids}::text[]) and ${jobEnded(tx)}`;
    return { jobs: jobs.count, attempts: attempts.count };
  });
}

/** Delete ended runs (their run_secrets row goes by its foreign key) that still have no child. */
export async function deleteRunRows(sql: Sql, runIds: readonly string[]): Promise<number> {
  if (runIds.length === 0) return 0;
  const result = await sql`
    delete from runs r
    where r.id = any(${runIds as string[]}::text[]) and ${runEnded(sql)}
      and not exists (select 1 from jobs c where c.run_id = r.id)`;
  return result.count;
}
