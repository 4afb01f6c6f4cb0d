import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { newId } from '../domain/ids.ts';
import type { ProviderKind, SnapshotStatus } from '../domain/workspace.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { requestOperation, type RequestedOperation } from './request-operation.ts';
import { createWorkspace, type WorkspaceActor } from './workspace-service.ts';
import { CreateWorkspaceInput } from './workspace-input.ts';

/**
 * Snapshots of a workspace (issue 18: POST/GET/DELETE /v1/workspaces/{id}/snapshots, …/restore).
 * These functions write rows and ask for operations; the worker's engine runs the `snapshot` and
 * `restore` operations (input {snapshotId}): it calls the provider and sets the row's status,
 * provider_ref and size_bytes.
 */

/**
 * LOUD: which providers can take and restore snapshots. A kind listed `false` answers 409
 * snapshot_unsupported before anything is written; change it together with the provider
 * (services/worker/src/workspaces/providers/*) implementing snapshot/restore, or an operation is
 * accepted that the engine can only fail.
 */
export const SNAPSHOT_SUPPORT: Readonly<Record<ProviderKind, boolean>> = {
  fake: true,
  netns: true, // an archive of the workspace directory
  command: false, // DevPod's contract has no snapshot command
  docker: false, // not built: a container commit or a volume archive would be the way
};

export interface SnapshotView {
  id: string;
  workspaceId: string;
  name: string;
  status: SnapshotStatus;
  sizeBytes: number | null;
  /** The operation that takes it. */
  operationId: string | null;
  createdBy: string | null;
  createdAt: string;
}

export interface SnapshotActor {
  userId: string | null;
  name: string;
}

interface SnapshotRow {
  id: string;
  workspace_id: string;
  name: string;
  status: SnapshotStatus;
  size_bytes: string | number | null;
  operation_id: string | null;
  created_by: string | null;
  created_at: Date | string;
}

const view = (r: SnapshotRow): SnapshotView => ({
  id: r.id,
  workspaceId: r.workspace_id,
  name: r.name,
  status: r.status,
  sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
  operationId: r.operation_id,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at).toISOString(),
});

const columns = (sql: ControlPlane['database']['sql']) => sql`id, workspace_id, name, status, size_bytes, operation_id, created_by, created_at`;

/** The provider kind of the template version a (live) workspace is built from. */
async function providerOf(cp: ControlPlane, workspaceId: string): Promise<ProviderKind> {
  const [row] = await cp.database.sql<{ provider: ProviderKind; deleted_at: string | null }[]>`
    select tv.provider, w.deleted_at from workspaces w
    join template_versions tv on tv.template_id = w.template_id and tv.version = w.template_version
    where w.id = ${workspaceId}`;
  if (!row || row.deleted_at) throw notFound('workspace', workspaceId);
  return row.provider;
}

const unsupported = (kind: ProviderKind) =>
  new AppError(409, 'snapshot_unsupported', `the workspace's provider (${kind}) cannot take or restore snapshots; providers that can: ${Object.entries(SNAPSHOT_SUPPORT).filter(([, ok]) => ok).map(([k]) => k).join(', ')}`);

/**
 * POST /v1/workspaces/{id}/snapshots (the route checked who may). The row (pending) and then the
 * `snapshot` operation; if the operation is refused (the workspace is running: 409
 * invalid_transition, or busy: 409 workspace_busy) the row is deleted again. LOUD: the row comes
 * first so that the engine, which may claim the operation at once, always finds it; and it goes if
 * the operation does not come, so nothing is left half-created.
 */
export async function createSnapshot(cp: ControlPlane, workspaceId: string, input: { name: string }, actor: SnapshotActor): Promise<{ snapshot: SnapshotView; operation: RequestedOperation }> {
  const sql = cp.database.sql;
  const kind = await providerOf(cp, workspaceId);
  if (!SNAPSHOT_SUPPORT[kind]) throw unsupported(kind);
  const id = newId('snp');
  // LOUD: one transaction, the row and its operation both or neither (a crash between them left a
  // `pending` snapshot no operation would ever finish). The workspace row is locked first, as
  // requestOperation locks it: the snapshot insert's foreign-key lock on it taken before would let
  // two concurrent creates deadlock on upgrading it.
  return sql.begin(async (tx) => {
    await tx`select id from workspaces where id = ${workspaceId} for update`;
    try {
      await tx`insert into workspace_snapshots (id, workspace_id, name, status, created_by) values (${id}, ${workspaceId}, ${input.name}, 'pending', ${actor.name})`;
    } catch (err) {
      if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new AppError(409, 'snapshot_exists', `name: the workspace already has a snapshot named ${JSON.stringify(input.name)}; choose another name or delete that one`, { field: 'name' });
      throw err;
    }
    const operation = await requestOperation(cp, { workspaceId, type: 'snapshot', reason: 'user', actor: { userId: actor.userId, name: actor.name }, input: { snapshotId: id } }, { tx });
    const [row] = await tx<SnapshotRow[]>`update workspace_snapshots set operation_id = ${operation.id} where id = ${id} returning ${columns(sql)}`;
    return { snapshot: view(row!), operation: operation };
  });
}

/** GET …/snapshots: newest first. */
export async function listSnapshots(cp: ControlPlane, workspaceId: string): Promise<SnapshotView[]> {
  const sql = cp.database.sql;
  const rows = await sql<SnapshotRow[]>`select ${columns(sql)} from workspace_snapshots where workspace_id = ${workspaceId} and status <> 'deleting' order by created_at desc, id desc`;
  return rows.map(view);
}

/** GET …/snapshots/{sid}: a snapshot of THIS workspace (another's id is 404, and so is one being deleted). */
export async function getSnapshot(cp: ControlPlane, workspaceId: string, snapshotId: string): Promise<SnapshotView> {
  const sql = cp.database.sql;
  const [row] = await sql<SnapshotRow[]>`select ${columns(sql)} from workspace_snapshots where id = ${snapshotId} and workspace_id = ${workspaceId} and status <> 'deleting'`;
  if (!row) throw notFound('snapshot', snapshotId);
  return view(row);
}

/**
 * DELETE …/snapshots/{sid}: the snapshot is marked `deleting` (hidden from then on, its name free
 * again) and the engine of the host holding its data deletes that (provider.deleteSnapshot), then
 * the row (services/worker/src/workspaces/engine/snapshot-sweep.ts). Refused (409 workspace_busy)
 * while a snapshot or restore operation of it is active: checked under the workspace row's lock,
 * which requestOperation takes too, so no operation can come between the check and the mark.
 * LOUD: the row must stay until the data is gone: it is the only record of where the data is.
 */
export async function deleteSnapshot(cp: ControlPlane, workspaceId: string, snapshotId: string): Promise<void> {
  await getSnapshot(cp, workspaceId, snapshotId);
  await cp.database.sql.begin(async (tx) => {
    await tx`select id from workspaces where id = ${workspaceId} for update`;
    const [op] = await tx<{ id: string; type: string }[]>`
      select id, type from workspace_operations
      where input->>'snapshotId' = ${snapshotId} and status in ('pending', 'running', 'canceling') limit 1`; // any workspace's: a new one may be built from it
    if (op) throw new AppError(409, 'workspace_busy', `the snapshot is in use by the ${op.type} operation ${op.id}: wait for it to end, or cancel it with POST /v1/operations/${op.id}/cancel`);
    // The name is freed (ids are unique, names per workspace): a new snapshot may take it at once.
    const marked = await tx`
      update workspace_snapshots set status = 'deleting', name = ${`deleting:`} || id
      where id = ${snapshotId} and workspace_id = ${workspaceId} and status <> 'deleting' returning id`;
    if (marked.length === 0) throw notFound('snapshot', snapshotId);
  });
}

/**
 * POST …/snapshots/{sid}/restore into this workspace: a `restore` operation (input {snapshotId}),
 * which requestOperation allows only on a stopped workspace (else 409 invalid_transition or
 * workspace_busy). The snapshot must be `ready` (409 invalid_transition otherwise).
 */
export async function restoreSnapshot(cp: ControlPlane, workspaceId: string, snapshotId: string, actor: SnapshotActor): Promise<RequestedOperation> {
  const snapshot = await getSnapshot(cp, workspaceId, snapshotId);
  const kind = await providerOf(cp, workspaceId);
  if (!SNAPSHOT_SUPPORT[kind]) throw unsupported(kind);
  if (snapshot.status !== 'ready') {
    throw new AppError(409, 'invalid_transition', `the snapshot is ${snapshot.status}: only a ready snapshot can be restored${snapshot.status === 'pending' ? ` (its operation ${snapshot.operationId} has not finished)` : ''}`);
  }
  return requestOperation(cp, { workspaceId, type: 'restore', reason: 'user', actor: { userId: actor.userId, name: actor.name }, input: { snapshotId } });
}

/**
 * POST …/snapshots/{sid}/restore into a NEW workspace `{name}`: the caller's, from the source's
 * template (its current version), params, labels, TTL and idle timeout, whose `create` operation
 * carries {snapshotId}: the engine converges it stopped, restores the snapshot, then runs it (and
 * claims it only on the host holding the snapshot's data). Not a create then a restore: restore
 * needs a stopped workspace and a create leaves it running. The snapshot must be `ready`.
 */
export async function restoreSnapshotIntoNew(cp: ControlPlane, workspaceId: string, snapshotId: string, name: string, actor: WorkspaceActor) {
  const snapshot = await getSnapshot(cp, workspaceId, snapshotId);
  const kind = await providerOf(cp, workspaceId);
  if (!SNAPSHOT_SUPPORT[kind]) throw unsupported(kind);
  if (snapshot.status !== 'ready') {
    throw new AppError(409, 'invalid_transition', `the snapshot is ${snapshot.status}: only a ready snapshot can be restored${snapshot.status === 'pending' ? ` (its operation ${snapshot.operationId} has not finished)` : ''}`);
  }
  const [source] = await cp.database.sql<{ template_id: string; params: Record<string, string>; labels: Record<string, string>; ttl_ms: string | null; idle_timeout_ms: string | null }[]>`
    select template_id, params, labels, ttl_ms, idle_timeout_ms from workspaces where id = ${workspaceId}`;
  if (!source) throw notFound('workspace', workspaceId);
  const input = CreateWorkspaceInput.parse({
    name,
    template: source.template_id,
    params: source.params ?? {},
    labels: source.labels ?? {},
    ttlMs: source.ttl_ms === null ? null : Number(source.ttl_ms),
    idleTimeoutMs: source.idle_timeout_ms === null ? null : Number(source.idle_timeout_ms),
  });
  return createWorkspace(cp, input, actor, { fromSnapshotId: snapshotId });
}
