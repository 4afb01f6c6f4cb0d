import type { jobs } from '../db/schema/jobs.ts';

export type JobRow = typeof jobs.$inferSelect;

/**
 * The job as the API shows it. `queuePosition` is computed by the caller that can afford a query
 * (jobs/target-gate queuePositions): null when it is not waiting on a limited target.
 */
export function jobView(row: JobRow, queuePosition: number | null = null) {
  return {
    id: row.id,
    status: row.status,
    command: row.command,
    target: row.target,
    agentId: row.agentId,
    hostId: row.hostId,
    env: row.env,
    secretEnvNames: row.secretEnvNames ?? [],
    cwd: row.cwd,
    timeoutMs: row.timeoutMs,
    exitCode: row.exitCode,
    signal: row.signal,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    outputBytes: row.outputBytes,
    outputTruncated: row.outputTruncated,
    labels: row.labels,
    createdBy: row.createdBy,
    parentId: row.parentId,
    // A fleet run's child: its run, its place in it, and the target the run resolved (null for a single job).
    runId: row.runId,
    runIndex: row.runIndex,
    targetName: row.targetName,
    targetKind: row.targetKind,
    attempt: row.attempt,
    priority: row.priority,
    runAt: row.runAt?.toISOString() ?? null,
    retry: row.retry,
    // Issue 15: the saved command and version it ran (null: not from a command).
    savedCommand: row.commandName === null || row.commandVersion === null ? null : { name: row.commandName, version: row.commandVersion },
    // Issue 14: shown while the job waits `queued` for its next attempt (kept in the row after it is released).
    retryAt: row.status === 'queued' ? (row.retryAt?.toISOString() ?? null) : null,
    // Retention (issue 14): the job's own, and whether its output was deleted (its logs answer 410).
    retainDays: row.retainDays,
    outputExpired: row.outputExpiredAt !== null,
    queuePosition,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}
export type JobView = ReturnType<typeof jobView>;
