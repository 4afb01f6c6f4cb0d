import type { Row, Sql } from 'postgres';
import type { ProcessExit } from '../job-change.ts';

/**
 * End a job whose process exited (on a worker, over SSH or on an agent), in one statement. The
 * status is decided in the same statement as it is written: a recorded cancel or timeout wins
 * when the process was signalled before it exited (it died because we killed it), else an error
 * or a non-zero exit is `failed`, else `succeeded`. Reading `cancel_reason` first and writing
 * after would let a cancel recorded in between be ignored.
 *
 * The exit that happened first wins: a cancel that lands after the command exited (while its
 * output was still being stored) leaves `succeeded` or `failed` with the command's exit code.
 *
 * LOUD: fenced like endJob (only a `running` row of this attempt), and callers must have made
 * every output chunk durable first.
 */
export async function recordExit(
  sql: Sql,
  jobId: string,
  exit: ProcessExit,
  attempt: number,
  /** Match only a job without a retry policy (the lifecycle judges the others first: lifecycle/retry.ts). */
  withoutRetryPolicy = false,
): Promise<Row | undefined> {
  const byExit = Boolean(exit.error) || exit.exitCode !== 0 ? 'failed' : 'succeeded';
  const [row] = await sql`
    update jobs set
      status = ${exit.stopped === false ? byExit : sql`coalesce(cancel_reason, ${byExit})`},
      exit_code = ${exit.exitCode},
      signal = ${exit.signal},
      error_code = ${exit.error?.code ?? null},
      error_message = ${exit.error?.message ?? null},
      output_truncated = output_truncated or ${exit.truncated},
      finished_at = clock_timestamp()
    where id = ${jobId} and attempt = ${attempt} and status = 'running'
      ${withoutRetryPolicy ? sql`and retry is null` : sql``}
    returning *`;
  return row;
}
