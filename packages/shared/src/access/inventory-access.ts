import type postgres from 'postgres';
import { sql as dsql, type SQL } from 'drizzle-orm';
import { agents } from '../db/schema/agents.ts';
import { hosts } from '../db/schema/hosts.ts';
import { matchesLabelSelector } from '../domain/label-selector.ts';
import { WORKSPACE_LABEL, WORKSPACE_OWNER_LABEL } from '../domain/workspace-agent-labels.ts';
import type { Grants, TargetGrant } from './grants.ts';
import type { RowFilter } from './row-filter.ts';
import { selectorsDrizzle } from './selectors-drizzle.ts';
import { agentGrantedSql, selectorsSql } from './target-sql.ts';

/*
 * The inventory (agents, hosts, GET /v1/targets) a caller may read: what a policy's `read` (or
 * `run`, `cancel`: they imply it) selects. Writing it is admins' only (the routes' scopes).
 * Listings filter in Postgres; one row already read is judged here in JS, with the same rule
 * (matchesLabelSelector is the reference the SQL is tested against).
 */

/** Agent rows (`alias`, postgres.js queries) a caller may read. */
export function agentsReadableBy(sql: postgres.Sql, grants: Grants): RowFilter {
  if (grants.admin) return () => sql`true`;
  return (alias) => agentGrantedSql(sql, alias, grants.read);
}

/** Host rows (`alias`, postgres.js queries) a caller may read. */
export function hostsReadableBy(sql: postgres.Sql, grants: Grants): RowFilter {
  if (grants.admin) return () => sql`true`;
  return (alias) => selectorsSql(sql, sql`${sql(alias)}.labels`, grants.read.selectors);
}

/** The same over the drizzle `agents` table, for drizzle queries; undefined (no condition) for an admin. */
export function agentsReadableWhere(grants: Grants): SQL | undefined {
  if (grants.admin) return undefined;
  // Registered labels only; the built-in agent by `local` only (target-sql.ts).
  const bySelector = selectorsDrizzle(dsql`${agents.labels}`, grants.read.selectors);
  // A workspace's agent: its owner's only, policy or none (target-sql.ts agentGrantedSql).
  const userId = grants.read.userId;
  const own = userId == null ? dsql`false` : dsql`coalesce((${agents.labels}->>${WORKSPACE_OWNER_LABEL}::text) = ${userId}, false)`;
  return dsql`(case when (${agents.labels}->>'builtin') = 'true' then ${grants.read.local ? dsql`true` : dsql`false`}
                    when (${agents.labels}->>${WORKSPACE_LABEL}::text) is not null then ${own}
                    else coalesce(${bySelector}, false) end)`;
}

/** The same over the drizzle `hosts` table; undefined for an admin. */
export function hostsReadableWhere(grants: Grants): SQL | undefined {
  if (grants.admin) return undefined;
  return selectorsDrizzle(dsql`${hosts.labels}`, grants.read.selectors);
}

/** Whether a caller may read one host, by its labels. For an agent: mayReadAgent. */
export function mayReadMachine(grants: Grants, labels: Readonly<Record<string, string>>): boolean {
  return grants.admin || grants.read.selectors.some((s) => matchesLabelSelector(s, labels));
}

/** Whether the agent with these REGISTERED labels is the built-in agent (the `local` target for authorization). */
export const isBuiltInAgent = (registeredLabels: Readonly<Record<string, string>>): boolean => registeredLabels['builtin'] === 'true';

/**
 * Whether `grant` covers one agent, by its REGISTERED labels (never the reported ones): the built-in
 * agent by `local` only; a workspace's agent only for its owner (target-sql.ts agentGrantedSql).
 */
export function grantCoversAgent(grant: TargetGrant, registeredLabels: Readonly<Record<string, string>>): boolean {
  if (isBuiltInAgent(registeredLabels)) return grant.local;
  // A workspace's agent: exactly its owner's (target-sql.ts agentGrantedSql), policy or none.
  if (registeredLabels[WORKSPACE_LABEL] !== undefined) return grant.userId != null && registeredLabels[WORKSPACE_OWNER_LABEL] === grant.userId;
  return grant.selectors.some((s) => matchesLabelSelector(s, registeredLabels));
}

/** Whether a caller may read one agent, by its REGISTERED labels. */
export function mayReadAgent(grants: Grants, registeredLabels: Readonly<Record<string, string>>): boolean {
  return grants.admin || grantCoversAgent(grants.read, registeredLabels);
}

/** Whether a caller may read the agent with this id, judged in Postgres on its registered labels (one query; none for an admin). */
export async function mayReadAgentId(sql: postgres.Sql, grants: Grants, agentId: string): Promise<boolean> {
  if (grants.admin) return true;
  const [row] = await sql`select 1 from agents a where a.id = ${agentId} and ${agentsReadableBy(sql, grants)('a')}`;
  return row !== undefined;
}
