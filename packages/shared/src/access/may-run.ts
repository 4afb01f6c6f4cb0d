import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { JobTarget } from '../domain/job-target.ts';
import type { TargetKind } from '../domain/target-kind.ts';
import { matchesLabelSelector } from '../domain/label-selector.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import type { Grants } from './grants.ts';
import { grantsEveryMachine } from './grants.ts';
import { FORBIDDEN_TARGETS_NAMED, targetForbidden } from './target-forbidden.ts';
import { grantCoversAgent, mayReadAgent, mayReadMachine } from './inventory-access.ts';
import { deniedByPolicy } from '../audit/policy-denial.ts';
import { AppError } from '../errors/app-error.ts';
import { grantedAgentIdsSql, grantedHostIdsSql } from './target-sql.ts';

/** The name the 403 gives the control plane's own workers. */
export const LOCAL_TARGET_NAME = 'local';

/** What assertMayRunJob judged: for an ssh target, the host the job must run on. */
export interface JudgedJobTarget {
  /**
   * Set for a non-admin's ssh target. LOUD: the submission must store THIS host rather than
   * resolve the name again: a bare name resolves among the caller's readable hosts here, and
   * among all hosts without `readable` (a hidden `web@default` would win over a readable
   * `web@staging`, and the job would run where the caller may not even look).
   */
  readonly hostId?: string;
}

/**
 * POST /v1/jobs: throws unless the caller may run on the job's target, before anything is written.
 * No query for an admin (and nothing judged: the submission resolves the target as always).
 * - A machine the caller may not READ is nobody to them (issue 11: no existence oracle): an agent
 *   (by id or name) or a host (by id, name@environment or bare name) they may not read is the
 *   same 422 `unknown_agent` / `unknown_host`, same words, as one that does not exist; a bare
 *   host name resolves, and is judged ambiguous, among readable hosts only (hosts/resolve-host.ts).
 *   POST /v1/runs answers a listed target by the same rule (runs/resolve-run-targets.ts).
 * - A machine they may read but not run on is 403 `target_forbidden` naming it.
 * - The `local` target (the control plane's own worker machines) is admins' only, unless a policy
 *   with `local: true` grants `run`: 403 naming `local` otherwise. The built-in agent named as an
 *   agent is read and run by `local` grants too (inventory-access.ts grantCoversAgent).
 */
export async function assertMayRunJob(cp: ControlPlane, grants: Grants, target: JobTarget): Promise<JudgedJobTarget> {
  if (grants.admin) return {};
  const grant = grants.run;
  if (target.type === 'local') {
    if (!grant.local) throw targetForbidden('run', [LOCAL_TARGET_NAME]);
    return {};
  }
  if (target.type === 'agent') {
    const [agent] = await cp.database.sql<{ name: string; labels: Record<string, string> }[]>`
      select name, labels from agents
      where revoked_at is null and (id = ${target.agent} or name = ${target.agent})
      limit 1`;
    // Nobody (or revoked) and hidden answer alike, from here, after the same one query.
    if (!agent) throw unknownAgent(target.agent);
    // Registered labels only, and the built-in agent is `local` (inventory-access.ts grantCoversAgent).
    if (!mayReadAgent(grants, agent.labels)) throw deniedByPolicy(unknownAgent(target.agent));
    if (!grantCoversAgent(grant, agent.labels)) throw targetForbidden('run', [agent.name]);
    return {};
  }
  const db = cp.database.db;
  const host = await resolveHost(db, target.host, (h) => mayReadMachine(grants, h.labels));
  if (!host) {
    // Hidden or nobody's, the same answer. The second look (made in both cases, so they cost the
    // same) only marks a hidden one for the audit trail as a policy's refusal.
    const hidden = (await resolveHost(db, target.host).catch(() => undefined)) !== undefined;
    const err = unknownHost(target.host);
    throw hidden ? deniedByPolicy(err) : err;
  }
  if (!grant.selectors.some((s) => matchesLabelSelector(s, host.labels))) throw targetForbidden('run', [`${host.name}@${host.environment}`]);
  return { hostId: host.id };
}

/*
 * LOUD: these must stay the exact words jobs/submit-job.ts answers for an agent or host that does
 * not exist, or the answer for a hidden machine tells it apart (services/api/test/access-policies.e2e.test.ts
 * compares the bytes).
 */
const unknownAgent = (ref: string) => new AppError(422, 'unknown_agent', `no agent with id or name ${JSON.stringify(ref)}; see GET /v1/agents`);
const unknownHost = (ref: string) => new AppError(422, 'unknown_host', `no host with id, name or name@environment ${JSON.stringify(ref)}; see GET /v1/hosts`);

/**
 * POST /v1/runs: throws 403 `target_forbidden` naming the first few resolved targets (in run
 * order) the caller may not run on, and how many there are, before anything is written. One
 * statement whatever the number of targets; none for an admin.
 */
export async function assertMayRunOnTargets(sql: postgres.Sql, grants: Grants, targets: readonly { kind: TargetKind; id: string; name: string }[]): Promise<void> {
  if (grants.admin || targets.length === 0) return;
  const grant = grants.run;
  if (grantsEveryMachine(grant) && grant.local) return;
  // (`local` only covers the built-in agent; with neither, only the caller's own workspaces' agents can pass)
  if (grant.selectors.length === 0 && !grant.local && !targets.some((t) => t.kind === 'agent')) {
    throw targetForbidden('run', targets.slice(0, FORBIDDEN_TARGETS_NAMED).map((t) => t.name), targets.length);
  }
  const rows = await sql<{ name: string; total: number }[]>`
    select t.name, count(*) over ()::int as total
    from unnest(${targets.map((t) => t.kind)}::text[], ${targets.map((t) => t.id)}::text[], ${targets.map((t) => t.name)}::text[])
         with ordinality as t(kind, id, name, ord)
    where not coalesce(case when t.kind = 'agent' then t.id in (${grantedAgentIdsSql(sql, grant)})
                            else t.id in (${grantedHostIdsSql(sql, grant)}) end, false)
    order by t.ord
    limit ${FORBIDDEN_TARGETS_NAMED}`;
  if (rows.length > 0) throw targetForbidden('run', rows.map((r) => r.name), rows[0]!.total);
}
