import type { Sql } from 'postgres';

/**
 * Shell sessions (issue 17) under the job rules (README, Retention): an ENDED session is deleted,
 * its recorded bytes first, VMO_RETENTION_DAYS after it ended; its bytes alone go after
 * VMO_OUTPUT_RETENTION_DAYS (the session stays listed, its logs empty). A session not ended is
 * never touched, as a running job is not: its recording may still be written.
 *
 * No index serves `ended_at` (shell_sessions is small next to job_output: one row per terminal
 * opened); the bytes are found through shell_output's primary key (session_id first).
 */

/** Up to `limit` ended sessions past `cutoff`, oldest first; with `withOutput`, only those with bytes left. */
export async function dueShellSessions(sql: Sql, cutoff: Date, limit: number, withOutput = false): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select s.id from shell_sessions s
    where s.ended_at < ${cutoff.toISOString()}::timestamptz
      ${withOutput ? sql`and exists (select 1 from shell_output o where o.session_id = s.id)` : sql``}
    order by s.ended_at limit ${limit}`;
  return rows.map((r) => r.id);
}

/** At most `limit` recorded rows (output and input) of these sessions, in one statement; how many went. */
export async function deleteShellOutputRows(sql: Sql, sessionIds: readonly string[], limit: number): Promise<number> {
  if (sessionIds.length === 0) return 0;
  const result = await sql`
    delete from shell_output
    where ctid = any(array(select ctid from shell_output where session_id = any(${sessionIds as string[]}::text[]) limit ${limit}))`;
  return result.count;
}

/** The session rows, once their bytes are gone (a row with bytes left stays for the next pass). */
export async function deleteShellSessionRows(sql: Sql, sessionIds: readonly string[]): Promise<number> {
  if (sessionIds.length === 0) return 0;
  const result = await sql`
    delete from shell_sessions s where s.id = any(${sessionIds as string[]}::text[]) and s.ended_at is not null
      and not exists (select 1 from shell_output o where o.session_id = s.id)`;
  return result.count;
}
