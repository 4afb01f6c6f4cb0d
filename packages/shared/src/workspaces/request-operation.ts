import type postgres from 'postgres';
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

export interface RequestOptions {
  /**
   * Run inside the caller's transaction (its own writes commit or roll back with the operation).
   * LOUD: an error thrown here has aborted that transaction: rethrow it, never go on using `tx`.
   */
  tx?: postgres.TransactionSql;
  /**
   * A decision's preconditions, checked under the workspace row's lock (after the latest operation
   * is read): a writer of the row (a PATCH of the TTL, another loop's activity bump) is either
   * before it, and seen, or after the operation. False: RequestPreconditionFailed, nothing written.
   */
  guard?: (tx: postgres.TransactionSql, latest: { id: string; type: OperationType; status: OperationStatus } | null) => Promise<boolean>;
}

/** A request whose guard said no: what it was decided on has changed ("not now", not a 409 to show anyone). */
export class RequestPreconditionFailed extends Error {
  constructor(readonly workspaceId: string) {
    super(`workspace ${workspaceId} changed since the decision to act on it`);
    this.name = 'RequestPreconditionFailed';
  }
}

/**
 * LOUD: the one way an operation comes to exist (API routes and the lifecycle loop alike). Under
 * the workspace row's lock it reads the latest operation, refuses what the status does not allow
 * (409 invalid_transition) and inserts the new one as `pending`; the partial unique index on active
 * operations makes a second concurrent action 409 workspace_busy whatever the interleaving, so two
 * schedulers ticking together create one operation. The engine (worker) picks pending ones up.
 */
export async function requestOperation(cp: ControlPlane, req: OperationRequest, opts: RequestOptions = {}): Promise<RequestedOperation> {
  const sql = cp.database.sql;
  try {
    const inTx = async (tx: postgres.TransactionSql): Promise<RequestedOperation> => {
      const [ws] = await tx<{ id: string; deleted_at: string | null }[]>`select id, deleted_at from workspaces where id = ${req.workspaceId} for update`;
      if (!ws || ws.deleted_at) throw notFound('workspace', req.workspaceId);
      const [latest] = await tx<{ id: string; type: OperationType; status: OperationStatus }[]>`
        select id, type, status from workspace_operations where workspace_id = ${req.workspaceId} order by created_at desc, id desc limit 1`;
      if (opts.guard && !(await opts.guard(tx, latest ?? null))) throw new RequestPreconditionFailed(req.workspaceId);
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
      // ISO 8601 as the API speaks it (the driver may answer timestamptz as text or a Date).
      return { ...op!, createdAt: new Date(op!.createdAt).toISOString() };
    };
    return await (opts.tx ? inTx(opts.tx) : sql.begin(inTx));
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw busy(null, null);
    throw err;
  }
}

const busy = (id: string | null, type: OperationType | null) =>
  new AppError(409, 'workspace_busy', id ? `the workspace has a ${type} operation active (${id}): wait for it to end, or cancel it with POST /v1/operations/${id}/cancel` : 'the workspace has an operation active: wait for it to end, or cancel it');
