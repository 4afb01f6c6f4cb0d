import type postgres from 'postgres';
import { sql as dsql, type SQL } from 'drizzle-orm';
import { agents } from '../db/schema/agents.ts';
import { hosts } from '../db/schema/hosts.ts';
import { matchesLabelSelector } from '../domain/label-selector.ts';
import type { Grants } from './grants.ts';
import type { RowFilter } from './row-filter.ts';
import { selectorsDrizzle } from './selectors-drizzle.ts';
import { agentLabelsSql, selectorsSql } from './target-sql.ts';

/*
 * The inventory (agents, hosts, GET /v1/targets) a caller may read: what a policy's `read` (or
 * `run`, `cancel`: they imply it) selects. Writing it is admins' only (the routes' scopes).
 * Listings filter in Postgres; one row already read is judged here in JS, with the same rule
 * (matchesLabelSelector is the reference the SQL is tested against).
 */

/** Agent rows (`alias`, postgres.js queries) a caller may read. */
export function agentsReadableBy(sql: postgres.Sql, grants: Grants): RowFilter {
  if (grants.admin) return () => sql`true`;
  return (alias) => selectorsSql(sql, agentLabelsSql(sql, alias), grants.read.selectors);
}

/** Host rows (`alias`, postgres.js queries) a caller may read. */
export function hostsReadableBy(sql: postgres.Sql, grants: Grants): RowFilter {
  if (grants.admin) return () => sql`true`;
  return (alias) => selectorsSql(sql, sql`${sql(alias)}.labels`, grants.read.selectors);
}

/** The same over the drizzle `agents` table, for drizzle queries; undefined (no condition) for an admin. */
export function agentsReadableWhere(grants: Grants): SQL | undefined {
  if (grants.admin) return undefined;
  return selectorsDrizzle(dsql`(${agents.reportedLabels} || ${agents.labels})`, grants.read.selectors);
}

/** The same over the drizzle `hosts` table; undefined for an admin. */
export function hostsReadableWhere(grants: Grants): SQL | undefined {
  if (grants.admin) return undefined;
  return selectorsDrizzle(dsql`${hosts.labels}`, grants.read.selectors);
}

/** Whether a caller may read one agent or host, by its (merged) labels. */
export function mayReadMachine(grants: Grants, labels: Readonly<Record<string, string>>): boolean {
  return grants.admin || grants.read.selectors.some((s) => matchesLabelSelector(s, labels));
}
