import type postgres from 'postgres';
import type { PolicyAction, UserRole } from '../domain/access.ts';
import { formatLabelSelector, LabelSelectorError, parseLabelSelector, type LabelSelector } from '../domain/label-selector.ts';

/** Who asks, as the engine needs it: the API's Principal has these fields (and more). */
export interface AccessActor {
  /** users.id; null for the bootstrap admin, who is nobody. */
  userId: string | null;
  /** The role as it is now. */
  role: UserRole;
}

/** Where one action is granted: agents and hosts matching any selector, and maybe the `local` target. */
export interface TargetGrant {
  /** Each a policy's `targets`, deduplicated; `[]` (one empty selector) matches every agent and host. */
  readonly selectors: readonly LabelSelector[];
  readonly local: boolean;
  /**
   * Whose grant it is (users.id): a workspace's agent is covered only for its owner (and then
   * only by a selector as any agent), never for anyone else whatever the selectors say
   * (domain/workspace-agent-labels.ts). Absent or null: no workspace's agent is covered.
   */
  readonly userId?: string | null;
}

/**
 * What a caller may do where, for one request. Admins: everything, known without a query.
 * Anyone else: what the policies naming their user or role grant, action by action.
 */
export type Grants =
  | { readonly admin: true }
  | { readonly admin: false; readonly userId: string | null; readonly read: TargetGrant; readonly run: TargetGrant; readonly cancel: TargetGrant };

export const ADMIN_GRANTS: Grants = Object.freeze({ admin: true });

export interface PolicyGrantRow {
  targets: string | null;
  actions: readonly PolicyAction[];
  local: boolean;
}

/**
 * The caller's grants: no query for an admin (they bypass policies); otherwise ONE read of the
 * policies naming the user or the role. The table is small and written by admins only. It is
 * read on every request rather than cached, so a policy deleted on one API node binds every node
 * at once.
 */
export async function loadGrants(sql: postgres.Sql, actor: AccessActor): Promise<Grants> {
  if (actor.role === 'admin') return ADMIN_GRANTS;
  const rows = await sql<PolicyGrantRow[]>`
    select targets, actions, local from policies
    where subjects->'roles' ? ${actor.role}
      ${actor.userId === null ? sql`` : sql`or subjects->'users' ? ${actor.userId}`}`;
  return grantsFrom(actor, rows);
}

/**
 * The rules, pure:
 * - `run` and `cancel` imply `read` on the same targets: who may act somewhere may see what runs
 *   there (its machines in the inventory, its jobs), or a run could not be previewed nor followed.
 *   This holds for a viewer named by such a policy too: they see, but do not act.
 * - A viewer never runs nor cancels, whatever a policy says: policies restrict roles, never widen
 *   them (the role's scopes are also checked by the routes: requireScope).
 * - A stored selector that no longer parses grants nothing (closed, not open): every one was
 *   parsed when the policy was created.
 */
export function grantsFrom(actor: AccessActor, rows: readonly PolicyGrantRow[]): Grants {
  if (actor.role === 'admin') return ADMIN_GRANTS;
  const acting = actor.role !== 'viewer';
  const collect = (wanted: (actions: readonly PolicyAction[]) => boolean): TargetGrant => {
    const bySelector = new Map<string, LabelSelector>();
    let local = false;
    for (const row of rows) {
      if (!wanted(row.actions)) continue;
      if (row.local) local = true;
      const selector = row.targets === null ? undefined : parseStored(row.targets);
      if (selector) bySelector.set(formatLabelSelector(selector), selector);
    }
    // One selector matching everything makes every other one redundant.
    const selectors = bySelector.has('') ? [[]] : [...bySelector.values()];
    return { selectors, local, userId: actor.userId };
  };
  return {
    admin: false,
    userId: actor.userId,
    read: collect((a) => a.length > 0), // every action implies read
    run: acting ? collect((a) => a.includes('run')) : NONE,
    cancel: acting ? collect((a) => a.includes('cancel')) : NONE,
  };
}

const NONE: TargetGrant = Object.freeze({ selectors: [], local: false });

function parseStored(text: string): LabelSelector | undefined {
  try {
    return parseLabelSelector(text);
  } catch (err) {
    if (err instanceof LabelSelectorError) return undefined;
    throw err;
  }
}

/** True when the grant covers nothing at all (no selector, no local). */
export const grantsNothing = (g: TargetGrant): boolean => g.selectors.length === 0 && !g.local;
/** True when the grant covers every agent and every host. */
export const grantsEveryMachine = (g: TargetGrant): boolean => g.selectors.some((s) => s.length === 0);
