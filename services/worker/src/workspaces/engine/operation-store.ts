import type postgres from 'postgres';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { OperationStatus, OperationType } from '@vmo/shared/domain';

/**
 * The engine's statements on workspace_operations (issue 18). Every one that changes an operation
 * a worker runs is conditional on `claimed_by` = that worker and an active status, so a worker
 * whose operation was taken over (it stalled past the takeover window) changes nothing any more,
 * and two workers can never both end one.
 */

export interface ClaimedOperation {
  id: string;
  workspaceId: string;
  type: OperationType;
  status: OperationStatus;
  input: Record<string, unknown>;
  templateVersion: number | null;
  /** The status it had before this claim: `pending` (a new one), or `running`/`canceling` (a takeover). */
  previousStatus: OperationStatus;
  previousClaimedBy: string | null;
  /** Its last sign of life before the claim (progress_at, or created_at when never claimed). */
  lastSignAt: Date;
}

const ms = (n: number) => `${Math.max(0, Math.round(n))} milliseconds`;

/**
 * Claim the oldest operation to run: a `pending` one, or a `running`/`canceling` one whose worker
 * stopped refreshing it `takeoverMs` ago (it died) or gave it back (shut down: claimed_by null). One statement: the row is locked with SKIP
 * LOCKED (engines polling together take different rows) and marked `running`, claimed by `workerId`.
 * A taken-over `canceling` one stays `canceling` (the caller ends it `canceled`).
 * LOUD: only operations of workspaces bound to no host or to `hostId` (provider_state.host, set by
 * bindHost for a host-bound provider): another host's worker would "stop" a machine it cannot see.
 */
export async function claimOperation(cp: ControlPlane, workerId: string, takeoverMs: number, hostId: string): Promise<ClaimedOperation | undefined> {
  const [row] = await cp.database.sql<(Omit<ClaimedOperation, 'lastSignAt'> & { lastSignAt: Date })[]>`
    with c as (
      select op.id, op.status, op.claimed_by, coalesce(op.progress_at, op.created_at) as last_sign
      from workspace_operations op join workspaces w on w.id = op.workspace_id
      where (op.status = 'pending'
         or (op.status in ('running', 'canceling') and (op.claimed_by is null or op.progress_at < clock_timestamp() - ${ms(takeoverMs)}::interval)))
        and (w.provider_state->>'host' is null or w.provider_state->>'host' = ${hostId})
        -- a create from a snapshot runs where the snapshot's data is (its workspace's host)
        and (op.type <> 'create' or op.input->>'snapshotId' is null or not exists (
          select 1 from workspace_snapshots s join workspaces sw on sw.id = s.workspace_id
          where s.id = op.input->>'snapshotId' and sw.provider_state->>'host' <> ${hostId}))
      order by op.created_at, op.id
      limit 1
      for update of op skip locked
    )
    update workspace_operations o
    set status = case when c.status = 'pending' then 'running' else c.status end,
        claimed_by = ${workerId},
        started_at = coalesce(o.started_at, clock_timestamp()),
        progress_at = clock_timestamp()
    from c where o.id = c.id
    returning o.id, o.workspace_id as "workspaceId", o.type, o.status, o.input, o.template_version as "templateVersion",
              c.status as "previousStatus", c.claimed_by as "previousClaimedBy", c.last_sign as "lastSignAt"`;
  return row;
}

/**
 * Refresh an operation's progress_at (the worker is alive). Answers its status now, or undefined
 * when it is no longer this worker's (taken over, or ended by someone else).
 */
export async function touchOperation(cp: ControlPlane, id: string, workerId: string): Promise<OperationStatus | undefined> {
  const [row] = await cp.database.sql<{ status: OperationStatus }[]>`
    update workspace_operations set progress_at = clock_timestamp()
    where id = ${id} and claimed_by = ${workerId} and status in ('running', 'canceling')
    returning status`;
  return row?.status;
}

export interface OperationEnd {
  status: 'succeeded' | 'failed';
  errorCode?: string;
  errorMessage?: string;
}

/**
 * LOUD: the one way the engine ends an operation: ONE conditional UPDATE (this worker's, still
 * active), so it ends once whoever races it. One that was asked to cancel (`canceling`) ends
 * `canceled` whatever the provider did. Answers the status it ended with, or undefined when it
 * was not this worker's to end any more.
 * `tx` lets a caller end it together with another write (delete: workspaces.deleted_at).
 */
export async function endOperation(sql: postgres.Sql | postgres.TransactionSql, id: string, workerId: string, end: OperationEnd): Promise<OperationStatus | undefined> {
  const code = end.status === 'failed' ? (end.errorCode ?? 'provider_failed') : null;
  const message = end.status === 'failed' ? (end.errorMessage ?? 'failed').slice(0, 4000) : null;
  const [row] = await sql<{ status: OperationStatus }[]>`
    update workspace_operations
    set status = case when status = 'canceling' then 'canceled' else ${end.status} end,
        error_code = case when status = 'canceling' then 'canceled' else ${code}::text end,
        error_message = case when status = 'canceling' then 'canceled while it ran' else ${message}::text end,
        ended_at = clock_timestamp(),
        progress_at = clock_timestamp()
    where id = ${id} and claimed_by = ${workerId} and status in ('running', 'canceling')
    returning status`;
  return row?.status;
}

/**
 * Give an operation back when this worker shuts down midway: claimed by nobody, so another worker
 * takes it over at its next poll instead of after the takeover window (progress_at stays the true
 * last sign of life, which the timeout counts from).
 */
export async function releaseOperation(cp: ControlPlane, id: string, workerId: string): Promise<void> {
  await cp.database.sql`
    update workspace_operations set claimed_by = null, progress_at = clock_timestamp()
    where id = ${id} and claimed_by = ${workerId} and status in ('running', 'canceling')`;
}

/**
 * LOUD: store what the provider returned in workspaces.provider_state BEFORE the operation is
 * marked succeeded (and after every step of it): a takeover after a worker died hands the stored
 * state to the provider, and an operation ended before its state was stored loses it for good
 * (the next stop/destroy would not find what the start made). Only while the operation is still
 * this worker's: one taken over must not overwrite its new owner's state.
 */
export async function storeProviderState(cp: ControlPlane, opId: string, workspaceId: string, workerId: string, state: Record<string, unknown> | null, extra: { templateVersion?: number } = {}): Promise<boolean> {
  const rows = await cp.database.sql`
    update workspaces w
    set provider_state = ${state === null ? null : JSON.stringify(state)}::jsonb,
        template_version = coalesce(${extra.templateVersion ?? null}::integer, w.template_version),
        updated_at = clock_timestamp()
    where w.id = ${workspaceId}
      and exists (select 1 from workspace_operations o where o.id = ${opId} and o.claimed_by = ${workerId} and o.status in ('running', 'canceling'))
    returning w.id`;
  return rows.length === 1;
}

/**
 * LOUD: tie a workspace to this host before a host-bound provider touches it (provider_state.host;
 * claimOperation then leaves its operations to this host's workers). False when it is bound to
 * another host or the operation is no longer this worker's.
 */
export async function bindHost(cp: ControlPlane, opId: string, workspaceId: string, workerId: string, hostId: string): Promise<boolean> {
  const rows = await cp.database.sql`
    update workspaces w
    set provider_state = coalesce(w.provider_state, '{}'::jsonb) || jsonb_build_object('host', ${hostId}::text), updated_at = clock_timestamp()
    where w.id = ${workspaceId}
      and (w.provider_state->>'host' is null or w.provider_state->>'host' = ${hostId})
      and exists (select 1 from workspace_operations o where o.id = ${opId} and o.claimed_by = ${workerId} and o.status in ('running', 'canceling'))
    returning w.id`;
  return rows.length === 1;
}
