import type { Row } from 'postgres';
import type { JobRow } from './job-view.ts';

/**
 * Timestamps from raw queries arrive as strings: drizzle's postgres-js driver replaces the
 * client's date parsers so it can map them itself.
 */
export const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const toDateOrNull = (v: unknown): Date | null => (v == null ? null : toDate(v));

/** A raw `select *` / `returning *` row from postgres.js as the drizzle row type. */
export function rowToJob(r: Row): JobRow {
  return {
    id: r.id,
    status: r.status,
    command: r.command,
    target: r.target,
    agentId: r.agent_id,
    hostId: r.host_id,
    env: r.env,
    cwd: r.cwd,
    timeoutMs: r.timeout_ms,
    exitCode: r.exit_code,
    signal: r.signal,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    outputBytes: Number(r.output_bytes),
    outputTruncated: r.output_truncated,
    cancelReason: r.cancel_reason,
    cancelGraceMs: r.cancel_grace_ms,
    cancelRequestedAt: toDateOrNull(r.cancel_requested_at),
    attempt: r.attempt,
    workerId: r.worker_id,
    acceptedAt: toDateOrNull(r.accepted_at),
    createdBy: r.created_by,
    labels: r.labels,
    parentId: r.parent_id,
    createdAt: toDate(r.created_at),
    startedAt: toDateOrNull(r.started_at),
    finishedAt: toDateOrNull(r.finished_at),
  };
}
