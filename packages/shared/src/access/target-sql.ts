import type postgres from 'postgres';
import { labelSelectorSql } from '../db/label-selector-sql.ts';
import type { LabelSelector } from '../domain/label-selector.ts';
import { grantsEveryMachine, type TargetGrant } from './grants.ts';
import { WORKSPACE_LABEL, WORKSPACE_OWNER_LABEL } from '../domain/workspace-agent-labels.ts';

/**
 * A grant's selectors as one SQL condition over a label column (any of them matches).
 *
 * LOUD: agents are judged on their REGISTERED labels only (`agents.labels`: set by an admin at
 * registration, by PATCH, or from the enrolment token), never on what the agent reports about
 * itself (`reported_labels`, its --labels): a compromised VM reporting `team=b` must not join team
 * b's grants. Selectors of runs and previews (GET /v1/targets) still see the merged labels; policies
 * see only labels an admin set. Hosts: `labels` (admin-imported).
 *
 * The built-in agent (registered label builtin=true: the single-machine `npm start` agent, which
 * runs on the control plane) is the `local` target for authorization: granted only by `local`,
 * never by a selector (agentGrantedSql).
 */
export function selectorsSql(sql: postgres.Sql, labels: postgres.Fragment, selectors: readonly LabelSelector[]): postgres.Fragment {
  if (selectors.length === 0) return sql`false`;
  if (selectors.some((s) => s.length === 0)) return sql`true`;
  // LOUD: parenthesised whole: callers put it after an `and` (`where x and ${…}`), where `a or b`
  // would read as `(x and a) or b` and let every row matching a later selector through.
  return sql`(${selectors.map((s) => sql`(${labelSelectorSql(sql, labels, s)})`).reduce((acc, cond) => sql`${acc} or ${cond}`)})`;
}

/** The labels authorization judges the agent row `alias` by: its registered ones only (see above). */
export const agentLabelsSql = (sql: postgres.Sql, alias: string): postgres.Fragment => sql`${sql(alias)}.labels`;

/** Whether the agent row `alias` is the built-in agent (the `local` target for authorization). */
export const builtInAgentSql = (sql: postgres.Sql, alias: string): postgres.Fragment => sql`(${sql(alias)}.labels->>'builtin') = 'true'`;

/** Whether the agent row `alias` is a workspace's (its reserved `workspace` label: domain/workspace-agent-labels.ts). */
export const workspaceAgentSql = (sql: postgres.Sql, alias: string): postgres.Fragment => sql`(${sql(alias)}.labels->>${WORKSPACE_LABEL}::text) is not null`;

/** Whether the workspace agent row `alias` is `userId`'s (never for no user). Never null. */
const ownWorkspaceAgentSql = (sql: postgres.Sql, alias: string, userId: string | null | undefined): postgres.Fragment =>
  userId == null ? sql`false` : sql`coalesce((${sql(alias)}.labels->>${WORKSPACE_OWNER_LABEL}::text) = ${userId}, false)`;

/**
 * Whether `g` covers the agent row `alias`: the built-in agent by `local` only; a workspace's agent
 * exactly for its owner, with or without a policy (it is their machine: issue 18), and LOUD: for
 * anyone else it is hidden, whatever a policy selects; any other by a selector over its registered
 * labels. Never null.
 */
export const agentGrantedSql = (sql: postgres.Sql, alias: string, g: TargetGrant): postgres.Fragment =>
  sql`(case when ${builtInAgentSql(sql, alias)} then ${g.local ? sql`true` : sql`false`}
            when ${workspaceAgentSql(sql, alias)} then ${ownWorkspaceAgentSql(sql, alias, g.userId)}
            else coalesce(${selectorsSql(sql, agentLabelsSql(sql, alias), g.selectors)}, false) end)`;

/** The ids of `userId`'s own workspace agents, as a subquery (none for no user). */
const ownWorkspaceAgentIdsSql = (sql: postgres.Sql, userId: string | null | undefined): postgres.Fragment =>
  sql`select oa.id from agents oa where ${workspaceAgentSql(sql, 'oa')} and ${ownWorkspaceAgentSql(sql, 'oa', userId)}`;

/** The ids of the workspace agents that are not `userId`'s (hidden from them), as a subquery. */
const othersWorkspaceAgentIdsSql = (sql: postgres.Sql, userId: string | null | undefined): postgres.Fragment =>
  sql`select wa.id from agents wa where ${workspaceAgentSql(sql, 'wa')} and not ${ownWorkspaceAgentSql(sql, 'wa', userId)}`;

/** The ids of the agents a grant covers, as a subquery (revoked ones included: their past jobs stay theirs). */
export const grantedAgentIdsSql = (sql: postgres.Sql, g: TargetGrant): postgres.Fragment =>
  sql`select ga.id from agents ga where ${agentGrantedSql(sql, 'ga', g)}`;

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
  // Every agent only when `local` too: the built-in agent is the local target, never a selector's.
  // (Other users' workspace agents excepted: agentGrantedSql.)
  if (grantsEveryMachine(g) && g.local) parts.push(sql`(${j}.agent_id is not null and ${j}.agent_id not in (${othersWorkspaceAgentIdsSql(sql, g.userId)}))`);
  else if (g.selectors.length > 0 || g.local) parts.push(sql`${j}.agent_id in (${grantedAgentIdsSql(sql, g)})`);
  else if (g.userId != null) parts.push(sql`${j}.agent_id in (${ownWorkspaceAgentIdsSql(sql, g.userId)})`); // their own workspaces' agents
  if (grantsEveryMachine(g)) parts.push(sql`${j}.host_id is not null`);
  else if (g.selectors.length > 0) parts.push(sql`${j}.host_id in (${grantedHostIdsSql(sql, g)})`);
  if (g.local) parts.push(sql`${j}.target->>'type' = 'local'`);
  if (parts.length === 0) return sql`false`;
  return sql`coalesce(${parts.reduce((acc, p) => sql`${acc} or ${p}`)}, false)`;
}
