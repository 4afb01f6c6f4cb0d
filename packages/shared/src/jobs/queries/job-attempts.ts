import type { Sql } from 'postgres';
import type { JobStatus } from '../../domain/job-status.ts';
import type { JobRow } from '../job-view.ts';
import { toDate } from '../row-to-job.ts';

/** One attempt of a job as GET /v1/jobs/{id}/attempts shows it. */
export interface JobAttemptView {
  attempt: number;
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  error: { code: string; message: string } | null;
  outputBytes: number;
  outputTruncated: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  /** When the attempt after it was (or is) due: set on an attempt that was retried, and on the current one while it waits for its start. */
  retryAt: string | null;
}

/**
 * The number of the job's current attempt: the one running or ended (`jobs.attempt`, bumped at
 * every start), or, while no start has taken it (a new job, one waiting for its next attempt, one
 * stopped before it started), the one that is to come.
 */
export function currentAttempt(job: Pick<JobRow, 'attempt' | 'startedAt'>): number {
  return job.startedAt ? job.attempt : job.attempt + 1;
}

/**
 * Every attempt of a job, oldest first (issue 14): those a retry moved past, as their `retry`
 * transition recorded them (job_attempts, by its primary key), then the current one from the job
 * row itself (which is where the current attempt lives).
 */
export async function jobAttempts(sql: Sql, job: JobRow): Promise<JobAttemptView[]> {
  const rows = await sql<
    {
      attempt: number;
      status: JobStatus;
      exit_code: number | null;
      signal: string | null;
      error_code: string | null;
      error_message: string | null;
      output_bytes: string | number;
      output_truncated: boolean;
      started_at: Date | string | null;
      finished_at: Date | string;
      retry_at: Date | string;
    }[]
  >`select attempt, status, exit_code, signal, error_code, error_message, output_bytes, output_truncated, started_at, finished_at, retry_at
    from job_attempts where job_id = ${job.id} order by attempt`;
  const iso = (v: Date | string | null) => (v === null ? null : toDate(v).toISOString());
  const past: JobAttemptView[] = rows.map((r) => ({
    attempt: r.attempt,
    status: r.status,
    exitCode: r.exit_code,
    signal: r.signal,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    outputBytes: Number(r.output_bytes),
    outputTruncated: r.output_truncated,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    retryAt: iso(r.retry_at),
  }));
  const current: JobAttemptView = {
    attempt: currentAttempt(job),
    status: job.status,
    exitCode: job.exitCode,
    signal: job.signal,
    error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null,
    outputBytes: job.outputBytes,
    outputTruncated: job.outputTruncated,
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    retryAt: job.status === 'queued' ? (job.retryAt?.toISOString() ?? null) : null,
  };
  return [...past, current];
}
