import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { TerminalStatus } from '../domain/job-status.ts';
import type { JobRow } from './job-view.ts';
import { rowToJob } from './row-to-job.ts';
import type { JobChannelMessage } from '../protocol/channel-messages.ts';

export interface JobEnd {
  status: TerminalStatus;
  exitCode?: number | null;
  signal?: string | null;
  error?: { code: string; message: string } | null;
  outputTruncated?: boolean;
}

/**
 * Write the end of a job, once. The terminal status is never overwritten: the update only
 * matches a non-terminal row, and with `attempt` only the current attempt (fencing: a stale
 * worker or a late agent can never end a job that was restarted or already ended).
 *
 * LOUD: callers must have made every output chunk durable before calling this; subscribers
 * treat `end` as "the log in Postgres is complete".
 */
export async function markJobTerminal(cp: ControlPlane, jobId: string, end: JobEnd, attempt?: number): Promise<JobRow | undefined> {
  const sql = cp.database.sql;
  const [row] = await sql`
    update jobs set
      status = ${end.status},
      exit_code = ${end.exitCode ?? null},
      signal = ${end.signal ?? null},
      error_code = ${end.error?.code ?? null},
      error_message = ${end.error?.message ?? null},
      output_truncated = output_truncated or ${end.outputTruncated ?? false},
      finished_at = clock_timestamp()
    where id = ${jobId}
      and status not in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost')
      ${attempt === undefined ? sql`` : sql`and attempt = ${attempt}`}
    returning *`;
  if (!row) return undefined;
  const job = rowToJob(row);
  await publishJobEnd(cp, job);
  return job;
}

export async function publishJobEnd(cp: ControlPlane, job: JobRow): Promise<void> {
  const msg: JobChannelMessage = { t: 'end', status: job.status, exitCode: job.exitCode, signal: job.signal };
  await cp.redis.publish(cp.keys.jobChannel(job.id), JSON.stringify(msg)).catch(() => {});
}
