import type { runs } from '../db/schema/runs.ts';
import { runProgress, type RunCounts } from './child-counts.ts';

type RunRecord = typeof runs.$inferSelect;

/** A run as GET /v1/runs lists it: everything but its children's counts. */
export function runListView(row: RunRecord) {
  return {
    id: row.id,
    status: row.status,
    command: row.command,
    env: row.env,
    secretEnvNames: row.secretEnvNames ?? [],
    cwd: row.cwd,
    timeoutMs: row.timeoutMs,
    targets: row.targets,
    strategy: { given: row.strategyInput, resolved: row.strategy },
    offline: row.offline,
    dispatchTimeoutMs: row.dispatchTimeoutMs,
    priority: row.priority,
    runAt: row.runAt?.toISOString() ?? null,
    retry: row.retry,
    retainDays: row.retainDays,
    labels: row.labels,
    // Issue 15: the saved command and version it ran (null: not from a command); each child records it too.
    savedCommand: row.commandName === null || row.commandVersion === null ? null : { name: row.commandName, version: row.commandVersion },
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
  return { ...runListView(row), counts, progress: runProgress(counts, row.total) };
}
export type RunView = ReturnType<typeof runView>;
