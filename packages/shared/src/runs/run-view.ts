import type { runs } from '../db/schema/runs.ts';
import { isTerminal, JOB_STATUSES, type JobStatus } from '../domain/job-status.ts';

type RunRecord = typeof runs.$inferSelect;

/** Children by status: every status a job can have, 0 included. */
export type RunCounts = Record<JobStatus, number>;

/** Every status at 0, then the ones counted: a status no child has is still answered (0), so a client never meets a missing key. */
export function fillRunCounts(counted: Partial<Record<string, number>>): RunCounts {
  return Object.fromEntries(JOB_STATUSES.map((s) => [s, counted[s] ?? 0])) as RunCounts;
}

/** A run as GET /v1/runs lists it: everything but its children's counts. */
export function runListView(row: RunRecord) {
  return {
    id: row.id,
    status: row.status,
    command: row.command,
    env: row.env,
    cwd: row.cwd,
    timeoutMs: row.timeoutMs,
    targets: row.targets,
    strategy: { given: row.strategyInput, resolved: row.strategy },
    offline: row.offline,
    dispatchTimeoutMs: row.dispatchTimeoutMs,
    labels: row.labels,
    createdBy: row.createdBy,
    total: row.total,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    canaryPassedAt: row.canaryPassedAt?.toISOString() ?? null,
    cancelRequestedAt: row.cancelRequestedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}
export type RunListView = ReturnType<typeof runListView>;

/** The run as GET /v1/runs/{id} answers it: with its children counted by status and the progress they add up to. */
export function runView(row: RunRecord, counts: RunCounts) {
  const done = JOB_STATUSES.filter(isTerminal).reduce((n, s) => n + counts[s], 0);
  return { ...runListView(row), counts, progress: { done, total: row.total } };
}
export type RunView = ReturnType<typeof runView>;
