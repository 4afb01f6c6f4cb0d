import type postgres from 'postgres';
import type { Grants, TargetGrant } from './grants.ts';
import type { RowFilter } from './row-filter.ts';
import { jobOnGrantedTargetSql } from './target-sql.ts';

/**
 * The jobs a caller may see: their own (owner_id, run children included: a run stamps its owner
 * on every child), and those whose target (agent, host, or the local target) a policy lets them
 * read. Everyone else's GET, logs, stream and cancel of the job answer 404, as for no job at all.
 */
export const jobsReadableBy = (sql: postgres.Sql, grants: Grants): RowFilter => jobRule(sql, grants, (g) => g.read);

/** The jobs a caller may cancel: their own, and those on a target a policy lets them cancel. */
export const jobsCancelableBy = (sql: postgres.Sql, grants: Grants): RowFilter => jobRule(sql, grants, (g) => g.cancel);

function jobRule(sql: postgres.Sql, grants: Grants, grantOf: (g: Extract<Grants, { admin: false }>) => TargetGrant): RowFilter {
  if (grants.admin) return () => sql`true`;
  const grant = grantOf(grants);
  return (alias) => {
    const onTarget = jobOnGrantedTargetSql(sql, grant, alias);
    return grants.userId === null ? onTarget : sql`(coalesce(${sql(alias)}.owner_id = ${grants.userId}, false) or ${onTarget})`;
  };
}
