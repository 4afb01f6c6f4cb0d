import type { Sql } from 'postgres';
import type { RowFilter } from '../../access/row-filter.ts';
import type { JobStatus } from '../../domain/job-status.ts';
import type { JobRow } from '../job-view.ts';
import { rowToJob } from '../row-to-job.ts';
import { targetJoinsSql } from '../target-gate/line.ts';
import { queuePositionSql } from '../target-gate/look-at-gate.ts';

/** One job by id, every column. */
export async function getJob(sql: Sql, jobId: string): Promise<JobRow | undefined> {
  const [row] = await sql`select * from jobs where id = ${jobId}`;
  return row ? rowToJob(row) : undefined;
}

/**
 * One job by id with its `queuePosition` (GET /v1/jobs/{id}), in one statement: its agent and host
 * joined by primary key for their limit, and the place in line counted only for a job waiting on
 * a limited target (queuePositionSql). A job on a target without a limit costs the same single
 * read as getJob, and no second query. `visible`: whether `visibleTo` (the caller's access,
 * @vmo/shared/access; everyone when absent) lets the caller see it, read in the same statement.
 */
export async function getJobWithPosition(sql: Sql, jobId: string, visibleTo?: RowFilter): Promise<{ job: JobRow; queuePosition: number | null; visible: boolean } | undefined> {
  const [row] = await sql`
    select j.*, ${queuePositionSql(sql, 'j')} as gate_queue_position, ${visibleTo ? visibleTo('j') : sql`true`} as access_visible
    from jobs j ${targetJoinsSql(sql, 'j')}
    where j.id = ${jobId}`;
  return row ? { job: rowToJob(row), queuePosition: row.gate_queue_position ?? null, visible: row.access_visible } : undefined;
}

/** Whether a job with this id exists (a stream upgrade's 404 check: one index probe, no row). */
export async function jobExists(sql: Sql, jobId: string): Promise<boolean> {
  const [row] = await sql`select 1 from jobs where id = ${jobId}`;
  return row !== undefined;
}

export interface JobState {
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  /** The fencing attempt (jobs.attempt): the one running or last run (issue 14: a retried job has several). */
  attempt: number;
  /** Set while the job waits `queued` for its next attempt (kept after its release). */
  retryAt: Date | null;
  /** Retention (issue 14) deleted its output: a stream sends none. */
  outputExpired: boolean;
}

/** What a job stream tells its subscriber: the status and, once ended, how; which attempt it is at. */
export async function getJobState(sql: Sql, jobId: string): Promise<JobState | undefined> {
  const [row] = await sql<{ status: JobStatus; exit_code: number | null; signal: string | null; attempt: number; retry_at: Date | string | null; output_expired: boolean }[]>`
    select status, exit_code, signal, attempt, retry_at, output_expired_at is not null as output_expired from jobs where id = ${jobId}`;
  return row
    ? { status: row.status, exitCode: row.exit_code, signal: row.signal, attempt: row.attempt, retryAt: row.retry_at === null ? null : new Date(row.retry_at), outputExpired: row.output_expired }
    : undefined;
}

export interface StopRequest {
  reason: 'canceled' | 'timed_out';
  graceMs: number | null;
}

/** The stop recorded for a job (cancel or timeout), if any: what its process holder must obey. */
export async function getStopRequest(sql: Sql, jobId: string): Promise<StopRequest | undefined> {
  const [row] = await sql<{ cancel_reason: 'canceled' | 'timed_out' | null; cancel_grace_ms: number | null }[]>`
    select cancel_reason, cancel_grace_ms from jobs where id = ${jobId}`;
  return row?.cancel_reason ? { reason: row.cancel_reason, graceMs: row.cancel_grace_ms } : undefined;
}

export interface DispatchState {
  status: JobStatus;
  /** The agent confirmed the start (`accepted_at` is set). */
  accepted: boolean;
  attempt: number;
}

/** What the worker waiting on an agent job looks at each round (one small row, by primary key). */
export async function getDispatchState(sql: Sql, jobId: string): Promise<DispatchState | undefined> {
  const [row] = await sql<DispatchState[]>`
    select status, accepted_at is not null as accepted, attempt from jobs where id = ${jobId}`;
  return row;
}
