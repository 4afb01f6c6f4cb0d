import type { ControlPlane } from '../control-plane/control-plane.ts';
import { workspaceStatus, type OperationStatus, type OperationType, type WorkspaceHealth, type WorkspaceStatus } from '../domain/workspace.ts';
import { agentPresence, type Presence } from '../presence/agent-presence.ts';

/**
 * A workspace's health (issue 18): a workspace is ready when ITS AGENT CONNECTS, not when the
 * provider returns.
 * - `none`: no machine should be up (anything but starting/running);
 * - `healthy`: its agent is online;
 * - `connecting`: starting, or started less than the template's agentConnectTimeoutMs ago (counted
 *   from the end of the start operation), and its agent not online yet; also whenever presence is
 *   `unknown` (Redis did not answer: no verdict on a presence nobody could read, agent-presence.ts);
 * - `unhealthy`: started longer ago than that and its agent is offline (never connected, or gone).
 */
export function workspaceHealth(input: {
  status: WorkspaceStatus;
  presence: Presence;
  /** When the operation that brought it up ended (null while it runs). */
  startEndedAt: Date | string | null;
  agentConnectTimeoutMs: number;
  now?: Date;
}): WorkspaceHealth {
  if (input.status !== 'running' && input.status !== 'starting') return 'none';
  if (input.presence === 'online') return 'healthy';
  if (input.status === 'starting' || input.presence === 'unknown' || input.startEndedAt === null) return 'connecting';
  const since = new Date(input.startEndedAt).getTime();
  return (input.now ?? new Date()).getTime() - since > input.agentConnectTimeoutMs ? 'unhealthy' : 'connecting';
}

/** One workspace's health, read from its latest operation, its template version and its agent's presence. */
export async function readWorkspaceHealth(cp: ControlPlane, workspaceId: string, now = new Date()): Promise<WorkspaceHealth> {
  const [row] = await cp.database.sql<{ agent_id: string | null; revoked_at: Date | null; timeout_ms: string | null; op_type: OperationType | null; op_status: OperationStatus | null; ended_at: Date | null }[]>`
    select w.agent_id, a.revoked_at, tv.agent_connect_timeout_ms as timeout_ms, o.type as op_type, o.status as op_status, o.ended_at
    from workspaces w
    left join agents a on a.id = w.agent_id
    left join template_versions tv on tv.template_id = w.template_id and tv.version = w.template_version
    left join lateral (select type, status, ended_at from workspace_operations o where o.workspace_id = w.id order by created_at desc, id desc limit 1) o on true
    where w.id = ${workspaceId}`;
  if (!row) return 'none';
  const status = workspaceStatus(row.op_type && row.op_status ? { type: row.op_type, status: row.op_status } : null);
  const presence: Presence = row.agent_id && !row.revoked_at ? await agentPresence(cp, row.agent_id) : 'offline';
  return workspaceHealth({ status, presence, startEndedAt: row.ended_at, agentConnectTimeoutMs: Number(row.timeout_ms ?? 120_000), now });
}
