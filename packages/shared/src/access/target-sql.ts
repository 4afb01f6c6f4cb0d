import type postgres from 'postgres';
import { labelSelectorSql } from '../db/label-selector-sql.ts';
import type { LabelSelector } from '../domain/label-selector.ts';
import { grantsEveryMachine, grantsNothing, type TargetGrant } from './grants.ts';

/**
 * A grant's selectors as one SQL condition over a label column (any of them matches). Agents are
 * judged on their merged labels, `(reported_labels || labels)` (registered labels win), as
 * GET /v1/targets and a run's resolution see them; hosts on `labels`.
 */
export function selectorsSql(sql: postgres.Sql, labels: postgres.Fragment, selectors: readonly LabelSelector[]): postgres.Fragment {
  if (selectors.length === 0) return sql`false`;
  if (selectors.some((s) => s.length === 0)) return sql`true`;
  return selectors.map((s) => sql`(${labelSelectorSql(sql, labels, s)})`).reduce((acc, cond) => sql`${acc} or ${cond}`);
}

/** The merged labels of the agent row `alias`. */
export const agentLabelsSql = (sql: postgres.Sql, alias: string): postgres.Fragment => sql`(${sql(alias)}.reported_labels || ${sql(alias)}.labels)`;

/** The ids of the agents a grant covers, as a subquery (revoked ones included: their past jobs stay theirs). */
export const grantedAgentIdsSql = (sql: postgres.Sql, g: TargetGrant): postgres.Fragment =>
  sql`select ga.id from agents ga where ${selectorsSql(sql, agentLabelsSql(sql, 'ga'), g.selectors)}`;

/** The ids of the inventory hosts a grant covers, as a subquery. */
export const grantedHostIdsSql = (sql: postgres.Sql, g: TargetGrant): postgres.Fragment =>
  sql`select gh.id from hosts gh where ${selectorsSql(sql, sql`gh.labels`, g.selectors)}`;

/**
 * Whether the job row `alias` (a `jobs` row: agent_id, host_id, target) runs where `g` grants.
 * Never null, so it may be negated safely (`not …` over a null is null, which a `where` drops and
 * a `not exists` would then count as granted).
 *
 * The ids are `in (subquery)` and not a correlated `exists`: uncorrelated, Postgres hashes the
 * granted agents and hosts once per statement, however many jobs a listing walks.
 */
export function jobOnGrantedTargetSql(sql: postgres.Sql, g: TargetGrant, alias: string): postgres.Fragment {
  const j = sql(alias);
  const parts: postgres.Fragment[] = [];
  if (grantsEveryMachine(g)) {
    parts.push(sql`${j}.agent_id is not null`, sql`${j}.host_id is not null`);
  } else if (g.selectors.length > 0) {
    parts.push(sql`${j}.agent_id in (${grantedAgentIdsSql(sql, g)})`, sql`${j}.host_id in (${grantedHostIdsSql(sql, g)})`);
  }
  if (g.local) parts.push(sql`${j}.target->>'type' = 'local'`);
  if (grantsNothing(g) || parts.length === 0) return sql`false`;
  return sql`coalesce(${parts.reduce((acc, p) => sql`${acc} or ${p}`)}, false)`;
}
