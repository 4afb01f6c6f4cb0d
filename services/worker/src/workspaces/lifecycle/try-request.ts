import type { ControlPlane } from '@vmo/shared/control-plane';
import type { OperationReason, OperationType } from '@vmo/shared/domain';
import { AppError } from '@vmo/shared/errors';
import { requestOperation, type RequestedOperation } from '@vmo/shared/workspaces';

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
 * `expectLatest`: the id of the latest operation the pass based its decision on. Checked just
 * before the request, so a decision read before someone else's operation (a stop that ended and a
 * person's start after it) is not applied to the workspace as it is now; what is left between this
 * read and the request is milliseconds, and the one-active-operation index covers two requests
 * at once.
 */
export async function tryRequest(
  cp: ControlPlane,
  req: { workspaceId: string; type: OperationType; reason: OperationReason; templateVersion?: number | null; expectLatest?: string | null },
): Promise<RequestedOperation | null> {
  if (req.expectLatest !== undefined) {
    const [latest] = await cp.database.sql<{ id: string }[]>`
      select id from workspace_operations where workspace_id = ${req.workspaceId} order by created_at desc, id desc limit 1`;
    if ((latest?.id ?? null) !== req.expectLatest) return null;
  }
  try {
    return await requestOperation(cp, { workspaceId: req.workspaceId, type: req.type, reason: req.reason, actor: null, templateVersion: req.templateVersion ?? null });
  } catch (err) {
    if (err instanceof AppError && (err.status === 409 || err.status === 404)) {
      cp.log.debug({ workspaceId: req.workspaceId, type: req.type, reason: req.reason, code: err.code }, 'workspace lifecycle: not now');
      return null;
    }
    throw err;
  }
}
