import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { JobRow } from './job-view.ts';
import { publishJobEnd } from './mark-job-terminal.ts';
import { rowToJob } from './row-to-job.ts';

export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
  error?: { code: string; message: string } | null;
  truncated: boolean;
  /**
   * Whether the process holder signalled the process before it exited. False: it exited on its
   * own first, and a cancel or timeout recorded since does not make it `canceled`/`timed_out`.
   * Absent (an older agent, the SSH executor): the recorded reason wins, as it always did.
   */
  stopped?: boolean;
}

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
 * LOUD: fenced like markJobTerminal (only a non-terminal row of this attempt), and callers must
 * have made every output chunk durable first.
 */
export async function recordExit(cp: ControlPlane, jobId: string, exit: ProcessExit, attempt: number): Promise<JobRow | undefined> {
  const sql = cp.database.sql;
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
    where id = ${jobId} and attempt = ${attempt}
      and status not in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost')
    returning *`;
  if (!row) return undefined;
  const job = rowToJob(row);
  await publishJobEnd(cp, job);
  return job;
}
