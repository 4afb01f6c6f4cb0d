import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { Db } from '../../db/client.ts';
import { runs } from '../../db/schema/runs.ts';
import { CHILD_GROUPS_SQL, countsOf, parseChildGroups } from '../child-counts.ts';
import { runView, type RunView } from '../run-view.ts';

/**
 * GET /v1/runs/{id}: the run and its children counted by status, in ONE statement: the counts
 * are the correlated aggregate every reader of a run's counts shares (child-counts.ts), a handful
 * of groups over jobs_run_idx (run_id, run_index) whatever the size of the run. LOUD: never a row
 * per child back to the API — a 10,000-child run polled by a dashboard would move 10,000 rows per look.
 */
export async function getRunView(cp: ControlPlane, runId: string): Promise<RunView | undefined> {
  const [row] = await runViewStatement(cp.database.db, runId);
  if (!row) return undefined;
  const { counts, ...run } = row;
  return runView(run, countsOf(parseChildGroups(counts)));
}

/** The statement alone, for getRunView and for the test that reads its plan. */
export function runViewStatement(db: Db, runId: string) {
  return db
    .select({ ...getTableColumns(runs), counts: sql<string>`${sql.raw(CHILD_GROUPS_SQL)}` })
    .from(runs)
    .where(eq(runs.id, runId));
}
