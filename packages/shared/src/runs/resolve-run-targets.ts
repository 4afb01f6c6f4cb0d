import type { ControlPlane } from '../control-plane/control-plane.ts';
import { labelSelectorSql } from '../db/label-selector-sql.ts';
import type { RowFilter } from '../access/row-filter.ts';
import type { LabelSelector } from '../domain/label-selector.ts';
import { TARGET_KINDS, type TargetKind } from '../domain/target-kind.ts';
import { isId } from '../domain/ids.ts';
import { AppError } from '../errors/app-error.ts';
import { DEFAULT_ENVIRONMENT } from '../hosts/host-input.ts';

/** One target of a run, as resolved at submission (and stored on its child job). */
export interface RunTarget {
  kind: TargetKind;
  id: string;
  /** An agent's name; a host's `name@environment`. */
  name: string;
}

export interface RunTargetsQuery {
  /** Already parsed (the route answers a parse error 400 with its position). */
  selector?: LabelSelector;
  /** The kinds the selector looks at; all when absent. Explicit lists are taken whatever this says. */
  kinds?: readonly TargetKind[];
  /** Agents by id or name, among agents not revoked. */
  agents?: readonly string[];
  /** Hosts by id, name or name@environment (hosts/resolve-host.ts). */
  hosts?: readonly string[];
  /**
   * The agents and hosts the caller may read (@vmo/shared/access agentsReadableBy/hostsReadableBy);
   * all when absent (an admin). LOUD: the selector AND the lists resolve only among these. A
   * machine the caller may not read is invisible: a selector does not match it (or its 403 / 422
   * no_targets would tell the names and number of machines they may not see), a list entry naming
   * it is the same 422 unknown_agent / unknown_host as a machine that does not exist, and a bare
   * host name is resolved (and judged ambiguous) among readable hosts only, so `ambiguous_host`
   * never counts nor names a hidden environment. A machine they may read but not run on is the
   * caller's 403 naming it (issue 11: "running where you may not is 403 naming the target").
   */
  visibleTo?: { agents: RowFilter; hosts: RowFilter };
}

/**
 * The targets of a run, once, at submission: what the selector matches (agents over their
 * registered labels merged onto the reported ones, as GET /v1/targets shows them; revoked agents
 * never; inventory hosts) plus the listed agents and hosts, each once (by kind and id), sorted by
 * kind (agents first) then name in byte order (`collate "C"`), which is the order of `run_index`.
 *
 * 422: a list entry that is nobody (`unknown_agent`, `unknown_host`, `ambiguous_host`, naming the
 * entry), nothing at all (`no_targets`), more than `maxTargets` (`too_many_targets`).
 */
export async function resolveRunTargets(cp: ControlPlane, q: RunTargetsQuery, maxTargets: number): Promise<RunTarget[]> {
  const found: RunTarget[] = [];
  if (q.selector !== undefined) found.push(...(await selectorTargets(cp, q.selector, q.kinds ?? TARGET_KINDS, maxTargets, q.visibleTo)));
  if (q.agents !== undefined) found.push(...(await listedAgents(cp, q.agents, q.visibleTo?.agents)));
  if (q.hosts !== undefined) found.push(...(await listedHosts(cp, q.hosts, q.visibleTo?.hosts)));

  const seen = new Set<string>();
  const targets = found.filter((t) => {
    const key = `${t.kind}:${t.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (targets.length === 0) {
    throw new AppError(422, 'no_targets', 'targets: the selector and lists match no live agent and no inventory host; preview a selector with GET /v1/targets?selector=…', {
      field: 'targets',
    });
  }
  if (targets.length > maxTargets) {
    throw new AppError(422, 'too_many_targets', `targets: the run matches more than ${maxTargets} targets (VMO_MAX_RUN_TARGETS); narrow the selector or split the run`, {
      field: 'targets',
      max: maxTargets,
    });
  }
  return targets.sort(byKindThenName);
}

/** Kind (TARGET_KINDS order: agent, ssh), then the name's UTF-8 bytes as Postgres' `collate "C"` sorts them, then id. */
function byKindThenName(a: RunTarget, b: RunTarget): number {
  if (a.kind !== b.kind) return TARGET_KINDS.indexOf(a.kind) - TARGET_KINDS.indexOf(b.kind);
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The selector in SQL, as targets/preview-targets.ts evaluates it. At most `maxTargets + 1` rows
 * per kind cross the wire: one more than allowed is enough to refuse the run.
 */
async function selectorTargets(cp: ControlPlane, selector: LabelSelector, kinds: readonly TargetKind[], maxTargets: number, visibleTo?: { agents: RowFilter; hosts: RowFilter }): Promise<RunTarget[]> {
  const sql = cp.database.sql;
  const out: RunTarget[] = [];
  if (kinds.includes('agent')) {
    // The operator's registered labels win over the reported ones on the same key (`||`: right wins).
    const labels = sql`(ra.reported_labels || ra.labels)`;
    const rows = await sql<{ id: string; name: string }[]>`
      select ra.id, ra.name from agents ra
      where ra.revoked_at is null and ${labelSelectorSql(sql, labels, selector)} ${visibleTo ? sql`and ${visibleTo.agents('ra')}` : sql``}
      limit ${maxTargets + 1}`;
    for (const r of rows) out.push({ kind: 'agent', id: r.id, name: r.name });
  }
  if (kinds.includes('ssh')) {
    const rows = await sql<{ id: string; name: string }[]>`
      select rh.id, rh.name || '@' || rh.environment as name from hosts rh
      where ${labelSelectorSql(sql, sql`rh.labels`, selector)} ${visibleTo ? sql`and ${visibleTo.hosts('rh')}` : sql``}
      limit ${maxTargets + 1}`;
    for (const r of rows) out.push({ kind: 'ssh', id: r.id, name: r.name });
  }
  return out;
}

/** Each entry an agent's id or the name of a live agent the caller may read (`readable`; all when absent), in one query for the whole list. */
async function listedAgents(cp: ControlPlane, refs: readonly string[], readable?: RowFilter): Promise<RunTarget[]> {
  const sql = cp.database.sql;
  // A plain array, typed by the cast: `sql.array()` without a type serialises it as one text
  // value until this process's first connection has fetched the array types.
  const unique = [...new Set(refs)];
  const rows = await sql<{ id: string; name: string }[]>`
    select la.id, la.name from agents la
    where la.revoked_at is null and (la.id = any(${unique}::text[]) or la.name = any(${unique}::text[]))
      ${readable ? sql`and ${readable('la')}` : sql``}`;
  const byRef = new Map<string, { id: string; name: string }>();
  for (const r of rows) byRef.set(r.name, r);
  for (const r of rows) byRef.set(r.id, r); // an id wins over a name that happens to look like one
  return refs.map((ref) => {
    const agent = byRef.get(ref);
    if (!agent) {
      throw new AppError(422, 'unknown_agent', `targets.agents: no agent with id or name ${JSON.stringify(ref)} (revoked agents are never targets); see GET /v1/agents`, {
        field: 'targets.agents',
        value: ref,
      });
    }
    return { kind: 'agent', id: agent.id, name: agent.name };
  });
}

/**
 * Each entry resolved as a single job's ssh target is (hosts/resolve-host.ts: a `host_…` id,
 * `name@environment`, or a bare name: the one in `default`, else the only one of that name), all
 * of them in ONE query (10,000 entries are one round trip, not 10,000 inside the POST). The first
 * entry in the list's order that is nobody's, or names several hosts, is the one the 422 names.
 * Only hosts the caller may read (`readable`; all when absent) are candidates, in every branch:
 * a hidden host is nobody's, and a bare name's ambiguity counts and names readable hosts only.
 */
async function listedHosts(cp: ControlPlane, refs: readonly string[], readable?: RowFilter): Promise<RunTarget[]> {
  const sql = cp.database.sql;
  const unique = [...new Set(refs)];
  const ids = unique.filter((r) => isId('host', r));
  const qualified = unique.filter((r) => !isId('host', r) && r.includes('@')).map((r) => ({ name: r.slice(0, r.lastIndexOf('@')), environment: r.slice(r.lastIndexOf('@') + 1) }));
  const bare = unique.filter((r) => !isId('host', r) && !r.includes('@'));
  // Plain arrays typed by their casts (see listedAgents). Each branch is an indexed lookup: the
  // primary key, and hosts_name_environment_idx (name first) for the other two.
  const visible = (alias: string) => (readable ? sql`and ${readable(alias)}` : sql``);
  const rows = await sql<{ id: string; name: string; environment: string }[]>`
    select h1.id, h1.name, h1.environment from hosts h1 where h1.id = any(${ids}::text[]) ${visible('h1')}
    union
    select h2.id, h2.name, h2.environment from hosts h2
      join unnest(${qualified.map((q) => q.name)}::text[], ${qualified.map((q) => q.environment)}::text[]) as q(name, environment)
        on h2.name = q.name and h2.environment = q.environment
      where true ${visible('h2')}
    union
    select h3.id, h3.name, h3.environment from hosts h3 where h3.name = any(${bare}::text[]) ${visible('h3')}`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const byQualified = new Map(rows.map((r) => [`${r.name}@${r.environment}`, r]));
  const byName = new Map<string, { id: string; name: string; environment: string }[]>();
  for (const r of rows) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);

  return refs.map((ref): RunTarget => {
    let host: { id: string; name: string; environment: string } | undefined;
    if (isId('host', ref)) host = byId.get(ref);
    else if (ref.includes('@')) host = byQualified.get(ref);
    else {
      const named = byName.get(ref) ?? [];
      host = named.length <= 1 ? named[0] : named.find((h) => h.environment === DEFAULT_ENVIRONMENT);
      if (!host && named.length > 1) {
        const envs = named.map((h) => h.environment).sort();
        throw new AppError(
          422,
          'ambiguous_host',
          `targets.hosts: host name ${JSON.stringify(ref)} exists in several environments (${envs.join(', ')}); name one as "${ref}@<environment>"`,
          { field: 'targets.hosts', value: ref },
        );
      }
    }
    if (!host) {
      throw new AppError(422, 'unknown_host', `targets.hosts: no host with id, name or name@environment ${JSON.stringify(ref)}; see GET /v1/hosts`, {
        field: 'targets.hosts',
        value: ref,
      });
    }
    return { kind: 'ssh', id: host.id, name: `${host.name}@${host.environment}` };
  });
}
