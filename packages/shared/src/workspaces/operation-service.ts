import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { OperationReason, OperationStatus, OperationType } from '../domain/workspace.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import { iso } from './iso-time.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

/** How many log lines GET /v1/operations/{id} answers inline (the first ones); `logsTruncated` says there are more. */
export const OPERATION_LOG_LINES_SHOWN = 1000;

export interface OperationView {
  id: string;
  workspaceId: string;
  workspaceName: string;
  type: OperationType;
  status: OperationStatus;
  reason: OperationReason;
  /** Who asked; null: the lifecycle loop (see reason). */
  actor: { id: string | null; name: string } | null;
  templateVersion: number | null;
  input: Record<string, unknown>;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  cancelRequestedAt: string | null;
}

export interface OperationDetail extends OperationView {
  logs: { seq: number; at: string; line: string }[];
  logsTruncated: boolean;
}

const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

export function operationView(r: postgres.Row): OperationView {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    workspaceName: r.workspace_name,
    type: r.type,
    status: r.status,
    reason: r.reason,
    actor: r.actor_name === null && r.actor_id === null ? null : { id: r.actor_id, name: r.actor_name ?? 'admin' },
    templateVersion: r.template_version,
    input: r.input ?? {},
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    createdAt: iso(r.created_at),
    startedAt: isoOrNull(r.started_at),
    endedAt: isoOrNull(r.ended_at),
    cancelRequestedAt: isoOrNull(r.cancel_requested_at),
  };
}

const COLUMNS = (sql: Sql) => sql`o.*, w.name as workspace_name, w.owner_id as workspace_owner_id from workspace_operations o join workspaces w on w.id = o.workspace_id`;

/** An operation with its workspace's owner (the route decides who may see it). */
export async function findOperation(sql: Sql, id: string): Promise<(OperationView & { ownerId: string | null }) | undefined> {
  const [row] = await sql`select ${COLUMNS(sql)} where o.id = ${id}`;
  return row ? { ...operationView(row), ownerId: row.workspace_owner_id } : undefined;
}

/** GET /v1/operations/{id}: the operation and its first log lines, in order. */
export async function getOperation(cp: ControlPlane, id: string): Promise<OperationDetail> {
  const sql = cp.database.sql;
  const op = await findOperation(sql, id);
  if (!op) throw notFound('operation', id);
  const lines = await sql<{ seq: number; at: Date; line: string }[]>`
    select seq, at, line from workspace_operation_logs where operation_id = ${id} order by seq limit ${OPERATION_LOG_LINES_SHOWN + 1}`;
  const { ownerId: _o, ...view } = op;
  return {
    ...view,
    logs: lines.slice(0, OPERATION_LOG_LINES_SHOWN).map((l) => ({ seq: Number(l.seq), at: iso(l.at), line: l.line })),
    logsTruncated: lines.length > OPERATION_LOG_LINES_SHOWN,
  };
}

export interface ListOperationsQuery {
  limit: number;
  cursor?: string | undefined;
  workspaceId?: string | undefined;
  type?: OperationType | undefined;
  status?: OperationStatus | undefined;
  /** Only operations of this owner's workspaces (a non-admin: their own). */
  ownerId?: string | null | undefined;
}

/** GET /v1/operations: newest first, keyset on (created_at, id). */
export async function listOperations(cp: ControlPlane, q: ListOperationsQuery): Promise<{ items: OperationView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const owner = q.ownerId === undefined ? sql`` : sql`and w.owner_id is not distinct from ${q.ownerId}`;
  if (q.cursor !== undefined) {
    const [at] = await sql`select 1 from workspace_operations o join workspaces w on w.id = o.workspace_id where o.id = ${q.cursor} ${owner}`;
    if (!at) throw badRequest('validation_failed', `cursor: ${q.cursor} is not an operation; pass the nextCursor of a previous page`, { field: 'cursor' });
  }
  const rows = await sql`
    select ${COLUMNS(sql)}
    where true ${owner}
      ${q.workspaceId ? sql`and o.workspace_id = ${q.workspaceId}` : sql``}
      ${q.type ? sql`and o.type = ${q.type}` : sql``}
      ${q.status ? sql`and o.status = ${q.status}` : sql``}
      ${q.cursor ? sql`and (o.created_at, o.id) < (select c.created_at, c.id from workspace_operations c where c.id = ${q.cursor})` : sql``}
    order by o.created_at desc, o.id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { items: page.map(operationView), nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

/**
 * POST /v1/operations/{id}/cancel: a pending one ends `canceled` at once (no worker has it); a
 * running one becomes `canceling` with cancel_requested_at, and the engine aborts its provider
 * and ends it; a canceling one is answered as it is. An ended one is 409 operation_ended.
 */
export async function cancelOperation(cp: ControlPlane, id: string, by: string): Promise<OperationView> {
  const sql = cp.database.sql;
  await sql.begin(async (tx) => {
    const [op] = await tx<{ status: OperationStatus }[]>`select status from workspace_operations where id = ${id} for update`;
    if (!op) throw notFound('operation', id);
    if (op.status === 'pending') {
      await tx`
        update workspace_operations set status = 'canceled', cancel_requested_at = clock_timestamp(), ended_at = clock_timestamp(),
          error_code = 'canceled', error_message = ${`canceled by ${by} before it started`}
        where id = ${id}`;
      await settleSnapshots(tx, { operationId: id }); // a pending snapshot operation canceled: its snapshot `failed`
    } else if (op.status === 'running') {
      await tx`update workspace_operations set status = 'canceling', cancel_requested_at = clock_timestamp() where id = ${id}`;
    } else if (op.status !== 'canceling') {
      throw new AppError(409, 'operation_ended', `the operation has already ended (${op.status}): nothing to cancel`);
    }
  });
  const view = await findOperation(sql, id);
  const { ownerId: _o, ...rest } = view!;
  return rest;
}

/**
 * LOUD: the one way a snapshot leaves `pending`: called in the same transaction as whatever ends
 * its `snapshot` operation (the engine's end, a cancel of a pending one, an orphan delete), it
 * sets the snapshot `ready` when the operation succeeded with the provider's ref stored, else
 * `failed`. Only ended operations count, so a call for a still-active one changes nothing; every
 * end path calls it, so no snapshot stays `pending` for good. Without `of`: every pending snapshot
 * whose operation has ended (the engine's sweep, for end paths that do not call it, e.g. an orphan delete).
 */
export async function settleSnapshots(sql: Sql, of?: { operationId: string } | { workspaceId: string }): Promise<void> {
  await sql`
    update workspace_snapshots s
    set status = case when o.status = 'succeeded' and s.provider_ref is not null then 'ready' else 'failed' end
    from workspace_operations o
    where o.type = 'snapshot' and s.id = o.input->>'snapshotId' and s.status = 'pending'
      and o.status in ('succeeded', 'failed', 'canceled')
      and ${of === undefined ? sql`o.id = s.operation_id` : 'operationId' in of ? sql`o.id = ${of.operationId}` : sql`o.workspace_id = ${of.workspaceId}`}`;
}
