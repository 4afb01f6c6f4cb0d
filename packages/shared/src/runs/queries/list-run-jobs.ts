import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { JobStatus } from '../../domain/job-status.ts';
import type { TargetKind } from '../../domain/target-kind.ts';
import { badRequest, notFound } from '../../errors/app-error.ts';
import { toDate } from '../../jobs/row-to-job.ts';
import { getRunHead } from './get-run-head.ts';

export interface ListRunJobsQuery {
  /** Any of these statuses. */
  status?: readonly JobStatus[];
  limit: number;
  /** Id of the last child of the previous page. */
  cursor?: string;
}

/** One child of a run as GET /v1/runs/{id}/jobs lists it. */
export interface RunChildView {
  id: string;
  index: number;
  target: { kind: TargetKind; name: string };
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  error: { code: string; message: string } | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

interface ChildRow {
  id: string;
  run_index: number;
  target_kind: TargetKind;
  target_name: string;
  status: JobStatus;
  exit_code: number | null;
  signal: string | null;
  error_code: string | null;
  error_message: string | null;
  started_at: unknown;
  finished_at: unknown;
}

/**
 * A run's children in run order (run_index: canaries first), keyset on the index: the page is a
 * range of jobs_run_idx (run_id, run_index), `limit + 1` rows, however large the run. The cursor
 * is the last child's job id, as GET /v1/jobs's cursor is a job id; one of another run is a 400
 * (it would otherwise silently page from nowhere).
 */
export async function listRunJobs(cp: ControlPlane, runId: string, q: ListRunJobsQuery): Promise<{ items: RunChildView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  if (!(await getRunHead(sql, runId))) throw notFound('run', runId);
  let afterIndex = -1;
  if (q.cursor !== undefined) {
    const [at] = await sql<{ run_index: number }[]>`select run_index from jobs where id = ${q.cursor} and run_id = ${runId}`;
    if (!at) throw badRequest('validation_failed', `cursor: ${q.cursor} is not a child of run ${runId}; pass the nextCursor of a previous page of this run`, { field: 'cursor' });
    afterIndex = at.run_index;
  }
  const rows = await sql<ChildRow[]>`
    select id, run_index, target_kind, target_name, status, exit_code, signal, error_code, error_message, started_at, finished_at
    from jobs
    where run_id = ${runId} and run_index > ${afterIndex}
      ${q.status && q.status.length > 0 ? sql`and status in ${sql(q.status as JobStatus[])}` : sql``}
    order by run_index
    limit ${q.limit + 1}`;
  const items = rows.slice(0, q.limit).map(childView);
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}

function childView(r: ChildRow): RunChildView {
  const startedAt = r.started_at === null ? null : toDate(r.started_at);
  const finishedAt = r.finished_at === null ? null : toDate(r.finished_at);
  return {
    id: r.id,
    index: r.run_index,
    target: { kind: r.target_kind, name: r.target_name },
    status: r.status,
    exitCode: r.exit_code,
    signal: r.signal,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    startedAt: startedAt?.toISOString() ?? null,
    finishedAt: finishedAt?.toISOString() ?? null,
    durationMs: startedAt && finishedAt ? finishedAt.getTime() - startedAt.getTime() : null,
  };
}
