import type { RowFilter } from '../../access/row-filter.ts';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { RunStatus } from '../../domain/run-status.ts';
import { badRequest } from '../../errors/app-error.ts';
import { rowToRun } from '../run-row.ts';
import { runListView, type RunListView } from '../run-view.ts';

export interface ListRunsQuery {
  /** Any of these statuses. */
  status?: readonly RunStatus[];
  limit: number;
  /** Id of the last run of the previous page. */
  cursor?: string;
  /** Only the runs the caller may see (@vmo/shared/access runsReadableBy); all when absent. */
  visibleTo?: RowFilter;
}

/**
 * GET /v1/runs: newest first, keyset pagination on (created_at, id) as GET /v1/jobs pages, the
 * cursor a run id (one that is no run, or none the caller may see, is a 400 naming `cursor`).
 * Served by runs_created_idx, or runs_status_created_idx with `status`; `visibleTo` is one more
 * condition on the same walk.
 *
 * LOUD: `nulls last`, as the indexes are built (drizzle's `.desc()` index is DESC NULLS LAST); a
 * bare `desc` is NULLS FIRST, which no index serves (jobs/queries/list-jobs.ts learned it).
 */
export async function listRuns(cp: ControlPlane, q: ListRunsQuery): Promise<{ items: RunListView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const visible = (alias: string) => (q.visibleTo ? sql`and ${q.visibleTo(alias)}` : sql``);
  // A cursor that is no run would page from nowhere (an empty 200 that looks like the end): a 400
  // naming it, as GET /v1/runs/{id}/jobs answers for a cursor that is not a child of its run.
  if (q.cursor !== undefined) {
    const [at] = await sql`select 1 from runs c where c.id = ${q.cursor} ${visible('c')}`;
    if (!at) throw badRequest('validation_failed', `cursor: ${q.cursor} is not a run; pass the nextCursor of a previous page`, { field: 'cursor' });
  }
  const rows = await sql`
    select * from runs r
    where true
      ${q.status && q.status.length > 0 ? sql`and r.status in ${sql(q.status as RunStatus[])}` : sql``}
      ${q.cursor ? sql`and (r.created_at, r.id) < (select c.created_at, c.id from runs c where c.id = ${q.cursor})` : sql``}
      ${visible('r')}
    order by r.created_at desc nulls last, r.id desc nulls last
    limit ${q.limit + 1}`;
  const items = rows.slice(0, q.limit).map((r) => runListView(rowToRun(r)));
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}
