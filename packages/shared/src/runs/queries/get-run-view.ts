import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { Db } from '../../db/client.ts';
import { runs } from '../../db/schema/runs.ts';
import { fillRunCounts, runView, type RunView } from '../run-view.ts';

/**
 * GET /v1/runs/{id}: the run and its children counted by status, in ONE statement: the counts
 * are a correlated aggregate over jobs_run_idx (run_id, run_index), a handful of groups whatever
 * the size of the run. LOUD: never a row per child back to the API — a 10,000-child run polled by
 * a dashboard would move 10,000 rows per look.
 */
export async function getRunView(cp: ControlPlane, runId: string): Promise<RunView | undefined> {
  const [row] = await runViewStatement(cp.database.db, runId);
  if (!row) return undefined;
  const { counts, ...run } = row;
  return runView(run, fillRunCounts(JSON.parse(counts) as Record<string, number>));
}

/** The statement alone, for getRunView and for the test that reads its plan. */
export function runViewStatement(db: Db, runId: string) {
  return db
    .select({
      ...getTableColumns(runs),
      // As text, so the driver hands over one string whatever its jsonb parsing (drizzle replaces some parsers).
      // LOUD: `runs.id` spelled out; drizzle renders ${runs.id} in a select as a bare "id", which the subquery reads as j.id (every count 0).
      counts: sql<string>`(
        select coalesce(jsonb_object_agg(c.status, c.n), '{}'::jsonb)::text
        from (select j.status, count(*)::int as n from jobs j where j.run_id = runs.id group by j.status) c)`,
    })
    .from(runs)
    .where(eq(runs.id, runId));
}
