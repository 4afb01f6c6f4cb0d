import { createHash } from 'node:crypto';

/**
 * The names a workspace's kernel objects get, derived from its id alone, so a worker that never saw
 * the workspace (a takeover after a crash) finds what an earlier try made. Linux interface names are
 * at most 15 characters (IFNAMSIZ - 1): `<prefix><h|n><9 hex of sha256(id)>` is at most 14 with a
 * prefix of up to 4. 9 hex digits (36 bits) make a collision between two workspaces of one host
 * negligible; the prefix (default `vmo`) lets tests use names of their own.
 */
export interface NetnsNames {
  netns: string;
  /** The veth end left on the host (gets the .1 address). */
  vethHost: string;
  /** The end moved into the namespace (gets the .2 address). */
  vethNs: string;
}

export const NAME_PREFIX_PATTERN = /^[a-z][a-z0-9]{0,3}$/;

/**
 * Workspace ids are generated (`wks_…`); anything else is refused, as the id becomes a directory
 * name under the root that `absent` removes (LOUD: no `/`, no `..`, nothing but [A-Za-z0-9_-]).
 */
export const WORKSPACE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function assertWorkspaceId(id: string): void {
  if (!WORKSPACE_ID_PATTERN.test(id)) throw new Error(`netns: refusing workspace id ${JSON.stringify(id)}: only letters, digits, "_" and "-" may name a workspace directory`);
}

export function netnsNames(workspaceId: string, prefix = 'vmo'): NetnsNames {
  assertWorkspaceId(workspaceId);
  if (!NAME_PREFIX_PATTERN.test(prefix)) throw new Error(`netns: name prefix ${JSON.stringify(prefix)} must be 1-4 lowercase letters or digits, starting with a letter`);
  const h = createHash('sha256').update(workspaceId).digest('hex').slice(0, 9);
  return { netns: `${prefix}-${h}`, vethHost: `${prefix}h${h}`, vethNs: `${prefix}n${h}` };
}
