import { and, inArray, sql, type SQL } from 'drizzle-orm';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { runs } from '../../db/schema/runs.ts';
import type { RunStatus } from '../../domain/run-status.ts';
import { badRequest } from '../../errors/app-error.ts';
import { getRunHead } from './get-run-head.ts';
import { runListView, type RunListView } from '../run-view.ts';

export interface ListRunsQuery {
  /** Any of these statuses. */
  status?: readonly RunStatus[];
  limit: number;
  /** Id of the last run of the previous page. */
  cursor?: string;
}

/**
 * GET /v1/runs: newest first, keyset pagination on (created_at, id) as GET /v1/jobs pages, the
 * cursor a run id (one that is no run is a 400 naming `cursor`). Served by runs_created_idx, or
 * runs_status_created_idx with `status`.
 *
 * LOUD: `nulls last`, as the indexes are built (drizzle's `.desc()` index is DESC NULLS LAST); a
 * bare `desc` is NULLS FIRST, which no index serves (jobs/queries/list-jobs.ts learned it).
 */
export async function listRuns(cp: ControlPlane, q: ListRunsQuery): Promise<{ items: RunListView[]; nextCursor: string | null }> {
  // A cursor that is no run would page from nowhere (an empty 200 that looks like the end): a 400
  // naming it, as GET /v1/runs/{id}/jobs answers for a cursor that is not a child of its run.
  if (q.cursor !== undefined && !(await getRunHead(cp.database.sql, q.cursor))) {
    throw badRequest('validation_failed', `cursor: ${q.cursor} is not a run; pass the nextCursor of a previous page`, { field: 'cursor' });
  }
  const where: SQL[] = [];
  if (q.status && q.status.length > 0) where.push(inArray(runs.status, [...q.status]));
  if (q.cursor) where.push(sql`(${runs.createdAt}, ${runs.id}) < (select r.created_at, r.id from runs r where r.id = ${q.cursor})`);
  const rows = await cp.database.db
    .select()
    .from(runs)
    .where(and(...where))
    .orderBy(sql`${runs.createdAt} desc nulls last`, sql`${runs.id} desc nulls last`)
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit).map(runListView);
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}
