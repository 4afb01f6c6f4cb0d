import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { Grants } from '../access/grants.ts';
import { mayReadAgent, mayReadMachine } from '../access/inventory-access.ts';
import { AppError } from '../errors/app-error.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import type { DefaultTargetInput } from './command-input.ts';

/** A command or version as a caller may see it: its default target, or null and `defaultTargetHidden`. */
export type Shown<T> = T & { defaultTargetHidden?: true };

/**
 * Issue 11 (review finding 11): every command is readable by anyone with `commands:read`, but a
 * default target that NAMES a machine the caller may not read would tell them the machine exists
 * (its GET is 404). Such a default is shown as `null` with `defaultTargetHidden: true`.
 *
 * What names a machine: an agent (id or name) and a host (id, name@environment or bare name), as a
 * job target or in a run's `agents`/`hosts` lists; every one of them must be readable (a machine
 * that does not exist is hidden alike, so hidden and absent look the same). What does not: a
 * selector (`kinds` too) is labels, not hosts, and matches whatever the caller's own view allows;
 * `local` is the control plane's own workers, no inventory machine. Admins see everything.
 */
export async function showDefaultTargets<T extends { defaultTarget: DefaultTargetInput | null }>(cp: ControlPlane, grants: Grants, items: readonly T[]): Promise<Shown<T>[]> {
  if (grants.admin) return [...items];
  const agentRefs = new Set<string>();
  const hostRefs = new Set<string>();
  for (const { defaultTarget: t } of items) {
    if (t === null) continue;
    if ('type' in t) {
      if (t.type === 'agent') agentRefs.add(t.agent);
      if (t.type === 'ssh') hostRefs.add(t.host);
    } else {
      t.agents?.forEach((a) => agentRefs.add(a));
      t.hosts?.forEach((h) => hostRefs.add(h));
    }
  }
  const readableAgents = await readableAgentRefs(cp, grants, [...agentRefs]);
  const readableHosts = new Set<string>();
  for (const ref of hostRefs) if (await hostRefReadable(cp, grants, ref)) readableHosts.add(ref);

  const visible = (t: DefaultTargetInput): boolean => {
    if ('type' in t) return t.type === 'local' || (t.type === 'agent' ? readableAgents.has(t.agent) : readableHosts.has(t.host));
    return (t.agents ?? []).every((a) => readableAgents.has(a)) && (t.hosts ?? []).every((h) => readableHosts.has(h));
  };
  return items.map((item) => (item.defaultTarget === null || visible(item.defaultTarget) ? item : { ...item, defaultTarget: null, defaultTargetHidden: true as const }));
}

/** The refs (ids or names) naming a live agent the caller may read: one query for the whole page. */
async function readableAgentRefs(cp: ControlPlane, grants: Grants, refs: string[]): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  const rows = await cp.database.sql<{ id: string; name: string; labels: Record<string, string> }[]>`
    select id, name, labels from agents where revoked_at is null and (id = any(${refs}::text[]) or name = any(${refs}::text[]))`;
  const readable = new Set<string>();
  for (const row of rows) {
    // Registered labels only, the built-in agent by `local` (as its GET judges it).
    if (!mayReadAgent(grants, row.labels)) continue;
    readable.add(row.id);
    readable.add(row.name);
  }
  return readable;
}

/** Whether a host ref resolves, among the caller's readable hosts, as a job target would. */
async function hostRefReadable(cp: ControlPlane, grants: Grants, ref: string): Promise<boolean> {
  try {
    return (await resolveHost(cp.database.db, ref, (h) => mayReadMachine(grants, h.labels))) !== undefined;
  } catch (err) {
    // Ambiguous among READABLE hosts only: the name is one the caller already sees.
    if (err instanceof AppError && err.code === 'ambiguous_host') return true;
    throw err;
  }
}
