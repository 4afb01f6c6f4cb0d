/**
 * Workspaces (issue 18): the words their contract, their tables, the operation engine and the
 * lifecycle loop share. Coder's model: a workspace's status is never stored, it is derived from
 * its latest operation (workspaceStatus below); its health from its agent.
 */

/** Where a workspace's machine comes from. `fake` is scripted, for tests (Coder's echo provisioner). */
export const PROVIDER_KINDS = ['fake', 'netns', 'command', 'docker'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/**
 * Every action on a workspace is an operation. `create` builds and starts it; `restart` is a stop
 * then a start; `rebuild` recreates it from its template's current version keeping its identity
 * and data; `delete` destroys it; `snapshot`/`restore` need it stopped.
 */
export const OPERATION_TYPES = ['create', 'start', 'stop', 'restart', 'rebuild', 'delete', 'snapshot', 'restore'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

/** pending → running → succeeded | failed | canceling → canceled. */
export const OPERATION_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceling', 'canceled'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/**
 * LOUD: the active statuses. A workspace has at most one active operation (a partial unique index
 * on workspace_operations enforces it: a second action is 409, and two schedulers ticking together
 * create one operation). Change this list and the index together.
 */
export const ACTIVE_OPERATION_STATUSES = ['pending', 'running', 'canceling'] as const satisfies readonly OperationStatus[];
export const isActiveOperation = (s: OperationStatus): boolean => (ACTIVE_OPERATION_STATUSES as readonly string[]).includes(s);

/** Who or what asked for an operation: a person, or the lifecycle loop and the rule that fired. */
export const OPERATION_REASONS = ['user', 'autostop', 'idle', 'autostart', 'session_start', 'session_end', 'dormancy', 'dormancy_delete', 'failure_cleanup', 'orphan_delete'] as const;
export type OperationReason = (typeof OPERATION_REASONS)[number];

/** Coder's workspace statuses. */
export const WORKSPACE_STATUSES = ['pending', 'starting', 'running', 'stopping', 'stopped', 'deleting', 'deleted', 'failed', 'canceling', 'canceled'] as const;
export type WorkspaceStatus = (typeof WORKSPACE_STATUSES)[number];

export const WORKSPACE_HEALTH = ['healthy', 'unhealthy', 'connecting', 'none'] as const;
export type WorkspaceHealth = (typeof WORKSPACE_HEALTH)[number];

/** What an operation type leaves the machine as when it succeeds. */
export const TRANSITION_OF: Record<OperationType, 'start' | 'stop' | 'delete' | 'keep'> = {
  create: 'start',
  start: 'start',
  restart: 'start',
  rebuild: 'start',
  stop: 'stop',
  delete: 'delete',
  snapshot: 'keep', // taken on a stopped workspace: it stays stopped
  restore: 'keep', // restored into a stopped workspace: it stays stopped
};

/**
 * The workspace's status from its latest operation (Coder's table). `keep` operations (snapshot,
 * restore) leave the workspace stopped whatever their outcome: they run only on a stopped one.
 */
export function workspaceStatus(latest: { type: OperationType; status: OperationStatus } | null): WorkspaceStatus {
  if (!latest) return 'pending';
  const t = TRANSITION_OF[latest.type];
  switch (latest.status) {
    case 'pending':
      return t === 'keep' ? 'stopped' : 'pending';
    case 'running':
      return t === 'start' ? 'starting' : t === 'stop' ? 'stopping' : t === 'delete' ? 'deleting' : 'stopped';
    case 'succeeded':
      return t === 'start' ? 'running' : t === 'stop' ? 'stopped' : t === 'delete' ? 'deleted' : 'stopped';
    case 'failed':
      return t === 'keep' ? 'stopped' : 'failed';
    case 'canceling':
      return 'canceling';
    case 'canceled':
      return t === 'keep' ? 'stopped' : 'canceled';
  }
}

/** The operations a workspace in a status may take (else 409 `workspace_busy` / `invalid_transition`). */
export function allowedOperations(status: WorkspaceStatus): readonly OperationType[] {
  switch (status) {
    case 'running':
      return ['stop', 'restart', 'rebuild', 'delete'];
    case 'stopped':
      return ['start', 'rebuild', 'delete', 'snapshot', 'restore'];
    case 'failed':
    case 'canceled':
      // A canceled or failed start can always be stopped and destroyed (and tried again).
      return ['start', 'stop', 'rebuild', 'delete'];
    case 'pending':
    case 'starting':
    case 'stopping':
    case 'deleting':
    case 'canceling':
    case 'deleted':
      return [];
  }
}

/** Scheduled sessions (POST /v1/workspaces/{id}/sessions). */
export const WORKSPACE_SESSION_STATUSES = ['scheduled', 'preparing', 'active', 'ended', 'canceled', 'failed'] as const;
export type WorkspaceSessionStatus = (typeof WORKSPACE_SESSION_STATUSES)[number];

/** `deleting`: DELETE asked for it; hidden from the API until the engine deleted its data and then the row. */
export const SNAPSHOT_STATUSES = ['pending', 'ready', 'failed', 'deleting'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];
