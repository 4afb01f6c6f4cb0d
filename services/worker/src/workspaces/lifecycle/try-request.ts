import type postgres from 'postgres';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { OperationReason, OperationType } from '@vmo/shared/domain';
import { AppError } from '@vmo/shared/errors';
import { requestOperation, RequestPreconditionFailed, type RequestedOperation, type RequestOptions } from '@vmo/shared/workspaces';

/** An operation the loop asked for, as a pass reports it (logs, tests). */
export interface LifecycleAction {
  workspaceId: string;
  operationId: string;
  type: OperationType;
  reason: OperationReason;
  sessionId?: string;
}

/**
 * requestOperation for the loop: a 409 (`workspace_busy`: another loop, a person or the engine got
 * there first; `invalid_transition`: the workspace moved on since the pass read it) means "not
 * now", answered null; the next pass reads it again. 404 (deleted meanwhile) likewise.
 *
 * LOUD: a decision is made on a read taken before the request; between the two a person may PATCH
 * the TTL, another loop may bump the deadline, someone may start and stop it. So the decision's
 * preconditions go in as `guard`, checked by requestOperation UNDER THE WORKSPACE ROW'S LOCK (every
 * such writer takes that row too): false is "not now" (null), nothing written.
 * `expectLatest`: the id of the latest operation the decision was based on (checked there too).
 */
export async function tryRequest(
  cp: ControlPlane,
  req: { workspaceId: string; type: OperationType; reason: OperationReason; templateVersion?: number | null; expectLatest?: string | null; guard?: (tx: postgres.TransactionSql) => Promise<boolean> },
): Promise<RequestedOperation | null> {
  const { expectLatest, guard } = req;
  const opts: RequestOptions =
    expectLatest === undefined && !guard
      ? {}
      : { guard: async (tx, latest) => (expectLatest === undefined || (latest?.id ?? null) === expectLatest) && (!guard || (await guard(tx))) };
  try {
    return await requestOperation(cp, { workspaceId: req.workspaceId, type: req.type, reason: req.reason, actor: null, templateVersion: req.templateVersion ?? null }, opts);
  } catch (err) {
    if (err instanceof RequestPreconditionFailed) {
      cp.log.debug({ workspaceId: req.workspaceId, type: req.type, reason: req.reason }, 'workspace lifecycle: changed since the pass read it, not now');
      return null;
    }
    if (err instanceof AppError && (err.status === 409 || err.status === 404)) {
      cp.log.debug({ workspaceId: req.workspaceId, type: req.type, reason: req.reason, code: err.code }, 'workspace lifecycle: not now');
      return null;
    }
    throw err;
  }
}
