import type postgres from 'postgres';
import { grantsNothing, type Grants, type TargetGrant } from './grants.ts';
import type { RowFilter } from './row-filter.ts';
import { jobOnGrantedTargetSql } from './target-sql.ts';

/**
 * The runs a caller may see: their own, and those EVERY target of which they may read. Not "any
 * target": a run's view, summary and stream show every child's status and output, so seeing a
 * run on one readable machine would show the others' output too. A child job is judged on its
 * own by the job rule (job-access.ts).
 *
 * Cost: for a run someone else owns, its children are walked (jobs_run_idx) against the granted
 * agents and hosts, which Postgres hashes once per statement.
 */
export const runsReadableBy = (sql: postgres.Sql, grants: Grants): RowFilter => runRule(sql, grants, (g) => g.read);

/** The runs a caller may cancel: their own, and those on every target of which they may cancel. */
export const runsCancelableBy = (sql: postgres.Sql, grants: Grants): RowFilter => runRule(sql, grants, (g) => g.cancel);

function runRule(sql: postgres.Sql, grants: Grants, grantOf: (g: Extract<Grants, { admin: false }>) => TargetGrant): RowFilter {
  if (grants.admin) return () => sql`true`;
  const grant = grantOf(grants);
  return (alias) => {
    const r = sql(alias);
    // A run always has children (no_targets is refused, and they are inserted with it in one
    // transaction), so "no child outside the grant" never holds for an empty set by accident.
    const everyTarget = grantsNothing(grant)
      ? sql`false`
      : sql`not exists (select 1 from jobs rc where rc.run_id = ${r}.id and not ${jobOnGrantedTargetSql(sql, grant, 'rc')})`;
    return grants.userId === null ? everyTarget : sql`(coalesce(${r}.owner_id = ${grants.userId}, false) or ${everyTarget})`;
  };
}
