import { LabelsInput } from './labels.ts';

/**
 * The labels that mark a workspace's agent (issue 18), set by workspaces/workspace-service.ts only.
 *
 * LOUD: they decide who may run there (access/target-sql.ts agentGrantedSql, access/inventory-access.ts
 * grantCoversAgent: a workspace's agent is its owner's and admins' only), so nobody may choose them:
 * POST/PATCH /v1/agents and enrolment tokens refuse them (400 naming the field), a PATCH keeps the
 * row's own, and what an agent reports about itself (hello) loses them. A user's own labels for a
 * workspace stay on the workspace row (workspaces.labels), never on its agent: were they copied,
 * a user could label their sandbox env=prod and receive admins' selector runs, with their secrets.
 */

/**
 * The workspace's name (the issue's `workspace=<name>`; a rename changes it). Names repeat across
 * owners, so a selector that must mean one workspace adds `workspace-owner` or uses `workspace-id`;
 * only its owner and admins can run on a workspace's agent anyway (access/target-sql.ts).
 */
export const WORKSPACE_LABEL = 'workspace';
/** The workspace's id. */
export const WORKSPACE_ID_LABEL = 'workspace-id';
/** The owner's user id; `admin` for the bootstrap admin (who is nobody). */
export const WORKSPACE_OWNER_LABEL = 'workspace-owner';
/** The owner label's value for the bootstrap admin. */
export const BOOTSTRAP_ADMIN_OWNER = 'admin';

export const RESERVED_AGENT_LABELS: readonly string[] = [WORKSPACE_LABEL, WORKSPACE_ID_LABEL, WORKSPACE_OWNER_LABEL];

/** A workspace agent's registered labels: these three and nothing else. */
export const workspaceAgentLabels = (workspaceId: string, workspaceName: string, ownerId: string | null): Record<string, string> => ({
  [WORKSPACE_LABEL]: workspaceName,
  [WORKSPACE_ID_LABEL]: workspaceId,
  [WORKSPACE_OWNER_LABEL]: ownerId ?? BOOTSTRAP_ADMIN_OWNER,
});

/** The first reserved key among `labels`, if any (input schemas refuse it). */
export const reservedLabelIn = (labels: Readonly<Record<string, string>>): string | undefined => RESERVED_AGENT_LABELS.find((k) => Object.hasOwn(labels, k));

/** `labels` without the reserved keys (an agent's reported labels). */
export function withoutReservedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (!RESERVED_AGENT_LABELS.includes(k)) out[k] = v;
  return out;
}

/**
 * An agent's labels as an admin gives them (POST/PATCH /v1/agents, enrolment tokens): LabelsInput
 * without the reserved keys, refused as 400 naming `labels.<key>`.
 */
export const AgentLabelsInput = LabelsInput.superRefine((labels, ctx) => {
  const key = reservedLabelIn(labels);
  if (key !== undefined) {
    ctx.addIssue({ code: 'custom', path: [key], message: `is reserved: only a workspace's own agent carries it (set by the workspace, never by hand)` });
  }
});
