import type { ControlPlane } from './control-plane.ts';
import type { JobRow } from './job-view.ts';
import { publishJobEnd } from './mark-job-terminal.ts';
import { rowToJob } from './row-to-job.ts';

export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
  error?: { code: string; message: string } | null;
  truncated: boolean;
}

/**
 * End a job whose process exited (on a worker, over SSH or on an agent), in one statement. The
 * status is decided in the same statement as it is written: a recorded cancel or timeout wins
 * (the process died because we killed it), else an error or a non-zero exit is `failed`, else
 * `succeeded`. Reading `cancel_reason` first and writing after would let a cancel recorded in
 * between be ignored.
 *
 * LOUD: fenced like markJobTerminal (only a non-terminal row of this attempt), and callers must
 * have made every output chunk durable first.
 */
export async function recordExit(cp: ControlPlane, jobId: string, exit: ProcessExit, attempt: number): Promise<JobRow | undefined> {
  const failed = Boolean(exit.error) || exit.exitCode !== 0;
  const [row] = await cp.database.sql`
    update jobs set
      status = coalesce(cancel_reason, ${failed ? 'failed' : 'succeeded'}),
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
