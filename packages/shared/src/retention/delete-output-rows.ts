import type { Sql } from 'postgres';

/**
 * Delete at most `limit` output rows of these jobs (any attempt) in one statement; how many went.
 * Called again until it returns less than `limit`: one short statement per call, so the log sink's
 * inserts (other jobs' rows, other pages of the table) never wait behind a long one, and VACUUM can
 * follow. The rows are found through the primary key (job_id first) and deleted by their physical
 * address (ctid: a TID scan, no second index walk). A chunk of an ended job is never updated, so
 * its ctid cannot move between the two.
 */
export async function deleteOutputRows(sql: Sql, jobIds: readonly string[], limit: number): Promise<number> {
  if (jobIds.length === 0) return 0;
  const result = await sql`
    delete from job_output
    where ctid = any(array(select ctid from job_output where job_id = any(${jobIds as string[]}::text[]) limit ${limit}))`;
  return result.count;
}
