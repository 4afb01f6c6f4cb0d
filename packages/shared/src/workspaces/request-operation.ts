import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { newId } from '../domain/ids.ts';
import { allowedOperations, workspaceStatus, type OperationReason, type OperationStatus, type OperationType } from '../domain/workspace.ts';
import { AppError, notFound } from '../errors/app-error.ts';

export interface OperationRequest {
  workspaceId: string;
  type: OperationType;
  reason: OperationReason;
  /** Who asked: a person (null userId: the bootstrap admin), or null for the lifecycle loop. */
  actor: { userId: string | null; name: string } | null;
  input?: Record<string, unknown>;
  templateVersion?: number | null;
}

export interface RequestedOperation {
  id: string;
  workspaceId: string;
  type: OperationType;
  status: OperationStatus;
  reason: OperationReason;
  createdAt: string;
}

/**
 * LOUD: the one way an operation comes to exist (API routes and the lifecycle loop alike). Under
 * the workspace row's lock it reads the latest operation, refuses what the status does not allow
 * (409 invalid_transition) and inserts the new one as `pending`; the partial unique index on active
 * operations makes a second concurrent action 409 workspace_busy whatever the interleaving, so two
 * schedulers ticking together create one operation. The engine (worker) picks pending ones up.
 */
export async function requestOperation(cp: ControlPlane, req: OperationRequest): Promise<RequestedOperation> {
  const sql = cp.database.sql;
  try {
    return await sql.begin(async (tx) => {
      const [ws] = await tx<{ id: string; deleted_at: string | null }[]>`select id, deleted_at from workspaces where id = ${req.workspaceId} for update`;
      if (!ws || ws.deleted_at) throw notFound('workspace', req.workspaceId);
      const [latest] = await tx<{ id: string; type: OperationType; status: OperationStatus }[]>`
        select id, type, status from workspace_operations where workspace_id = ${req.workspaceId} order by created_at desc, id desc limit 1`;
      if (latest && (latest.status === 'pending' || latest.status === 'running' || latest.status === 'canceling')) throw busy(latest.id, latest.type);
      const status = workspaceStatus(latest ?? null);
      // `create` is the first operation only (createWorkspace inserts it with the row).
      if (req.type === 'create' ? latest !== undefined : !allowedOperations(status).includes(req.type)) {
        throw new AppError(409, 'invalid_transition', `the workspace is ${status}: ${req.type} is not possible now${allowedOperations(status).length ? ` (possible: ${allowedOperations(status).join(', ')})` : ''}`);
      }
      const [op] = await tx<RequestedOperation[]>`
        insert into workspace_operations (id, workspace_id, type, reason, actor_id, actor_name, input, template_version)
        values (${newId('wop')}, ${req.workspaceId}, ${req.type}, ${req.reason}, ${req.actor?.userId ?? null}, ${req.actor?.name ?? null},
                ${JSON.stringify(req.input ?? {})}::jsonb, ${req.templateVersion ?? null})
        returning id, workspace_id as "workspaceId", type, status, reason, created_at as "createdAt"`;
      return op!;
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw busy(null, null);
    throw err;
  }
}

const busy = (id: string | null, type: OperationType | null) =>
  new AppError(409, 'workspace_busy', id ? `the workspace has a ${type} operation active (${id}): wait for it to end, or cancel it with POST /v1/operations/${id}/cancel` : 'the workspace has an operation active: wait for it to end, or cancel it');
