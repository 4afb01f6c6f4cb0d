import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { JobTarget } from '../domain/job-target.ts';
import type { TargetKind } from '../domain/target-kind.ts';
import { matchesLabelSelector } from '../domain/label-selector.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import type { Grants, TargetGrant } from './grants.ts';
import { grantsEveryMachine } from './grants.ts';
import { FORBIDDEN_TARGETS_NAMED, targetForbidden } from './target-forbidden.ts';
import { grantCoversAgent } from './inventory-access.ts';
import { grantedAgentIdsSql, grantedHostIdsSql } from './target-sql.ts';

/** The name the 403 gives the control plane's own workers. */
export const LOCAL_TARGET_NAME = 'local';

/**
 * POST /v1/jobs: throws 403 `target_forbidden` naming the target unless the caller may run there.
 * The `local` target (the control plane's own worker machines) is admins' only, unless a policy
 * with `local: true` grants `run`. No query for an admin. A target that is nobody is let through:
 * the submission then answers its 422 (unknown_agent, unknown_host) as it always did.
 */
export async function assertMayRunJob(cp: ControlPlane, grants: Grants, target: JobTarget): Promise<void> {
  if (grants.admin) return;
  const grant = grants.run;
  if (target.type === 'local') {
    if (!grant.local) throw targetForbidden('run', [LOCAL_TARGET_NAME]);
    return;
  }
  if (target.type === 'agent') {
    const [agent] = await cp.database.sql<{ name: string; labels: Record<string, string> }[]>`
      select name, labels from agents
      where revoked_at is null and (id = ${target.agent} or name = ${target.agent})
      limit 1`;
    // Registered labels only, and the built-in agent is `local` (inventory-access.ts grantCoversAgent).
    if (agent && !grantCoversAgent(grant, agent.labels)) throw targetForbidden('run', [agent.name]);
    return;
  }
  // A bare name resolves among the hosts the caller may read: an ambiguity lists no hidden environment.
  const host = await resolveHost(cp.database.db, target.host, (h) => grantCoversReadHost(grants, h.labels));
  if (host && !grantCovers(grant, host.labels)) throw targetForbidden('run', [`${host.name}@${host.environment}`]);
}

const grantCoversReadHost = (grants: Grants, labels: Readonly<Record<string, string>>): boolean => grants.admin || grantCovers(grants.read, labels);
const grantCovers = (g: TargetGrant, labels: Readonly<Record<string, string>>): boolean => g.selectors.some((s) => matchesLabelSelector(s, labels));

/**
 * POST /v1/runs: throws 403 `target_forbidden` naming the first few resolved targets (in run
 * order) the caller may not run on, and how many there are, before anything is written. One
 * statement whatever the number of targets; none for an admin.
 */
export async function assertMayRunOnTargets(sql: postgres.Sql, grants: Grants, targets: readonly { kind: TargetKind; id: string; name: string }[]): Promise<void> {
  if (grants.admin || targets.length === 0) return;
  const grant = grants.run;
  if (grantsEveryMachine(grant) && grant.local) return;
  if (grant.selectors.length === 0 && !grant.local) { // (`local` only covers the built-in agent)
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
