import type { Row, Sql } from 'postgres';
import type { TerminalStatus } from '../../../domain/job-status.ts';
import type { EndDetails } from '../job-change.ts';

/**
 * Write the end of a job, once: only from `from` (a terminal status is never overwritten), and
 * with `attempt` only that attempt (fencing: a stale worker or a late agent can never end a job
 * that was restarted or already ended).
 *
 * LOUD: callers must have made every output chunk durable before calling this; subscribers
 * treat `end` as "the log in Postgres is complete".
 */
export async function endJob(
  sql: Sql,
  jobId: string,
  from: 'queued' | 'running',
  status: TerminalStatus,
  end: EndDetails,
  attempt: number | undefined,
  /** Match only a job without a retry policy (the lifecycle judges the others first: lifecycle/retry.ts). */
  withoutRetryPolicy = false,
): Promise<Row | undefined> {
  const [row] = await sql`
    update jobs set
      status = ${status},
      exit_code = ${end.exitCode ?? null},
      signal = ${end.signal ?? null},
      error_code = ${end.error?.code ?? null},
      error_message = ${end.error?.message ?? null},
      output_truncated = output_truncated or ${end.outputTruncated ?? false},
      finished_at = clock_timestamp()
    where id = ${jobId} and status = ${from}
      ${attempt === undefined ? sql`` : sql`and attempt = ${attempt}`}
      ${withoutRetryPolicy ? sql`and retry is null` : sql``}
    returning *`;
  return row;
}
