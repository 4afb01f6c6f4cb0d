import type { Sql } from 'postgres';
import { isRetried, retryDelayMs, type AttemptOutcome, type RetryPolicy } from '../../domain/retry-policy.ts';
import { JOB_ERRORS } from '../../errors/error-codes.ts';
import type { JobChange, JobError, RetryChange } from './job-change.ts';

/*
 * Retries (issue 14) as the one writer takes them: an attempt that would end `failed`,
 * `timed_out` or `lost` is judged against the job's policy (domain/retry-policy.ts) BEFORE any
 * end is written, and either ends the job as asked or becomes a `retry` change (sql/retry-job.ts).
 * A terminal status is therefore never written for an attempt that is retried, and never undone.
 */

/** Changes that may end an attempt a policy could retry: an exit, or an end as failed, timed out or lost. */
export function mayBeRetried(change: JobChange): change is Extract<JobChange, { kind: 'exit' | 'end' }> {
  if (change.kind === 'exit') return true;
  return change.kind === 'end' && (change.status === 'failed' || change.status === 'timed_out' || change.status === 'lost');
}

/** What the retry decision reads of the job, in one indexed read. */
export interface RetryFence {
  status: string;
  attempt: number;
  retry: RetryPolicy | null;
  cancelReason: string | null;
}

export async function readRetryFence(sql: Sql, jobId: string): Promise<RetryFence | undefined> {
  const [row] = await sql<{ status: string; attempt: number; retry: RetryPolicy | string | null; cancel_reason: string | null }[]>`
    select status, attempt, retry, cancel_reason from jobs where id = ${jobId}`;
  if (!row) return undefined;
  // jsonb arrives parsed or as text depending on the driver's parsers (drizzle replaces some).
  const retry = typeof row.retry === 'string' ? (JSON.parse(row.retry) as RetryPolicy) : row.retry;
  return { status: row.status, attempt: row.attempt, retry, cancelReason: row.cancel_reason };
}

/**
 * The retry this change becomes, or undefined: the job has no policy, the change no longer
 * matches the row (another writer won: the caller's own statement will lose too), or the policy
 * does not retry this end.
 *
 * The status the change would write is worked out as its statement does: `end` writes its status;
 * `exit` the recorded stop reason when the process was signalled (sql/record-exit.ts), else
 * `failed` for an error or a non-zero exit, else `succeeded`.
 */
export function retryOf(change: Extract<JobChange, { kind: 'exit' | 'end' }>, fence: RetryFence, random: () => number = Math.random): RetryChange | undefined {
  const policy = fence.retry;
  if (!policy) return undefined;
  const from = change.kind === 'exit' ? 'running' : change.from;
  if (fence.status !== from) return undefined;
  if (change.attempt !== undefined && fence.attempt !== change.attempt) return undefined;

  let status: AttemptOutcome['status'];
  let exitCode: number | null;
  let signal: string | null;
  let error: JobError | null;
  let truncated: boolean;
  if (change.kind === 'exit') {
    const e = change.exit;
    const byExit = e.error || e.exitCode !== 0 ? 'failed' : 'succeeded';
    status = e.stopped === false ? byExit : ((fence.cancelReason as 'canceled' | 'timed_out' | null) ?? byExit);
    ({ exitCode, signal } = e);
    error = e.error ?? null;
    truncated = e.truncated;
  } else {
    status = change.status;
    exitCode = change.exitCode ?? null;
    signal = change.signal ?? null;
    error = change.error ?? null;
    truncated = change.outputTruncated ?? false;
  }
  // The attempt that is over: the running one, or (from `queued`) the one that never got to start.
  const attempt = from === 'running' ? fence.attempt : fence.attempt + 1;
  const outcome: AttemptOutcome = {
    status,
    exitCode,
    error: error ? { code: error.code, mayPass: (JOB_ERRORS as Record<string, { retry: string }>)[error.code]?.retry !== 'no' } : null,
    cancelRequested: fence.cancelReason === 'canceled',
  };
  if (!isRetried(policy, attempt, outcome)) return undefined;
  if (status !== 'failed' && status !== 'timed_out' && status !== 'lost') return undefined;
  return {
    kind: 'retry',
    from,
    fence: fence.attempt,
    cancelReason: fence.cancelReason,
    attempt,
    outcome: { status, exitCode, signal, error, truncated },
    delayMs: retryDelayMs(policy.backoff, attempt, random),
  };
}
