import type postgres from 'postgres';
import { revokeAgent, rotateAgentToken } from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { DesiredState, ProviderContext, ProviderResult, WorkspaceProvider } from '@vmo/shared/workspaces';
import { publishOperationEnd, settleSnapshots } from '@vmo/shared/workspaces';
import { bindHost, endOperation, releaseOperation, storeProviderState, type ClaimedOperation, type OperationEnd } from './operation-store.ts';
import { OperationError, OperationRun, untilSettledOrAbandoned } from './operation-run.ts';
import { deleteSnapshotData } from './snapshot-sweep.ts';

export interface EngineDeps {
  cp: ControlPlane;
  workerId: string;
  /** This machine's id (provider_state.host of host-bound providers' workspaces). */
  hostId: string;
  /** The control plane's URL as a workspace's agent reaches it (AgentLaunch.url). */
  agentUrl: string;
  timeoutMs: number;
  takeoverMs: number;
  heartbeatMs: number;
  /** How long an aborted provider call may take to return before the engine stops waiting. */
  abortGraceMs: number;
  providerFor(kind: string): WorkspaceProvider | undefined;
}

interface WorkspaceRow {
  id: string;
  name: string;
  template_id: string;
  template_version: number;
  current_version: number;
  params: Record<string, string>;
  agent_id: string | null;
  provider_state: Record<string, unknown> | null;
  deleted_at: Date | null;
}

interface VersionRow {
  version: number;
  provider: string;
  config: Record<string, unknown>;
  params: { name: string; default?: string }[];
}

/** One converge of a plan: the desired state, from which template version's config. */
interface Step {
  desired: DesiredState;
  version: number;
  /** Record this version as the workspace's once the step is under way (rebuild). */
  adoptVersion?: boolean;
  /** Before this step: restore this snapshot (a create from a snapshot: stopped → restore → running). */
  restoreFrom?: string;
}

/**
 * Run one claimed operation to its end (issue 18):
 *   create/start → running; stop → stopped; restart → stopped, running; rebuild → stopped with the
 *   version it was built from, then running with the template's current one (recorded in
 *   workspaces.template_version); delete → absent, then deleted_at and its agent revoked;
 *   snapshot/restore → the provider's snapshot/restore with input.snapshotId (workspace_snapshots).
 * Before each converge(running) the workspace's agent token is rotated and handed to the provider
 * (AgentLaunch). The provider state is stored after every step, before the end.
 */
export async function runOperation(deps: EngineDeps, op: ClaimedOperation, shutdown: AbortSignal): Promise<void> {
  const { cp, workerId } = deps;
  const finish = async (end: OperationEnd, extra?: (tx: postgres.TransactionSql) => Promise<unknown>) => {
    const status = await cp.database.sql.begin(async (tx) => {
      const ended = await endOperation(tx, op.id, workerId, end);
      if (ended && extra) await extra(tx);
      // LOUD: a snapshot operation's snapshot leaves `pending` with it, whatever the end path.
      if (ended && op.type === 'snapshot') await settleSnapshots(tx, { operationId: op.id });
      return ended;
    });
    if (status) await publishOperationEnd(cp, op.id, status);
    else cp.log.info({ opId: op.id }, 'workspace operation was no longer ours to end');
    return status;
  };

  // Taken over while canceling: its worker died after the cancel; nothing to abort here.
  if (op.previousStatus === 'canceling') {
    await finish({ status: 'failed' }); // ends `canceled` (endOperation)
    return;
  }
  // Nobody made progress on it for the whole timeout (no worker for that long): it ends here.
  if (Date.now() - new Date(op.lastSignAt).getTime() > deps.timeoutMs) {
    await finish({ status: 'failed', errorCode: 'timed_out', errorMessage: 'timed out' });
    return;
  }

  const run = new OperationRun(cp, op.id, workerId, { timeoutMs: deps.timeoutMs, heartbeatMs: deps.heartbeatMs });
  const onShutdown = () => run.abort('shutdown');
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener('abort', onShutdown, { once: true });
  run.start();
  try {
    if (op.previousStatus !== 'pending') run.log(`worker ${workerId} took the operation over ${op.previousClaimedBy ? `from ${op.previousClaimedBy}` : '(its worker shut down)'}`);
    let deleted = false;
    try {
      deleted = await execute(deps, op, run);
    } catch (err) {
      run.stop();
      await run.flushLog();
      if (run.cause === 'lost') return; // another worker has it now
      if (run.cause === 'shutdown') {
        await releaseOperation(cp, op.id, workerId);
        return;
      }
      if (run.cause === 'timed_out') {
        await finish({ status: 'failed', errorCode: 'timed_out', errorMessage: 'timed out' });
        return;
      }
      // canceled: endOperation turns it `canceled` (its status is `canceling`).
      const code = err instanceof OperationError ? err.code : 'provider_failed';
      const message = (err as Error)?.message ?? String(err);
      await finish({ status: 'failed', errorCode: code, errorMessage: message });
      return;
    }
    run.stop();
    await run.flushLog();
    if (deleted) {
      // The machine is gone: its row stays (usage, history) with deleted_at, which frees the name.
      await finish({ status: 'succeeded' }, (tx) => tx`update workspaces set deleted_at = clock_timestamp(), updated_at = clock_timestamp() where id = ${op.workspaceId} and deleted_at is null`);
    } else {
      await finish({ status: 'succeeded' });
    }
  } finally {
    run.stop();
    shutdown.removeEventListener('abort', onShutdown);
  }
}

/** The operation's work; answers whether the workspace is now deleted. Throws to fail it. */
async function execute(deps: EngineDeps, op: ClaimedOperation, run: OperationRun): Promise<boolean> {
  const { cp } = deps;
  const [ws] = await cp.database.sql<WorkspaceRow[]>`
    select w.id, w.name, w.template_id, w.template_version, t.current_version, w.params, w.agent_id, w.provider_state, w.deleted_at
    from workspaces w join templates t on t.id = w.template_id where w.id = ${op.workspaceId}`;
  if (!ws) throw new OperationError('not_found', `workspace ${op.workspaceId} does not exist`);
  if (ws.deleted_at) throw new OperationError('invalid_transition', 'the workspace is deleted');

  const versionOf = async (version: number): Promise<VersionRow> => {
    const [v] = await cp.database.sql<VersionRow[]>`
      select version, provider, config, params from template_versions where template_id = ${ws.template_id} and version = ${version}`;
    if (!v) throw new OperationError('template_missing', `template version ${version} of the workspace's template does not exist`);
    return v;
  };
  const providerOf = (v: VersionRow): WorkspaceProvider => {
    const provider = deps.providerFor(v.provider);
    if (!provider) throw new OperationError('provider_unavailable', `this worker has no "${v.provider}" provider`);
    return provider;
  };
  let state = ws.provider_state;
  const ctxFor = (v: VersionRow, agent?: ProviderContext['agent']): ProviderContext => ({
    workspaceId: ws.id,
    workspaceName: ws.name,
    config: v.config,
    params: paramsWithDefaults(v.params, ws.params),
    state,
    ...(agent ? { agent } : {}),
    log: run.log,
    signal: run.signal,
  });
  const call = <T>(work: Promise<T>) => untilSettledOrAbandoned(work, run.signal, deps.abortGraceMs);
  // LOUD: a host-bound provider's workspace is tied to this host before the provider makes anything.
  const bound = async (provider: WorkspaceProvider): Promise<WorkspaceProvider> => {
    if (provider.hostBound && !(await bindHost(cp, op.id, ws.id, deps.workerId, deps.hostId))) {
      throw new OperationError('wrong_host', `the workspace's ${provider.kind} machine is on host ${String(state?.host ?? '?')}, not ${deps.hostId}`);
    }
    return provider;
  };
  const providerHere = async (v: VersionRow) => bound(providerOf(v));

  if (op.type === 'snapshot' || op.type === 'restore') {
    await snapshotOrRestore(deps, op, run, await versionOf(ws.template_version), ctxFor, providerHere, call);
    return false;
  }

  const built = ws.template_version;
  const target = op.templateVersion ?? (op.type === 'rebuild' ? ws.current_version : built);
  const fromSnapshot = op.type === 'create' && typeof op.input.snapshotId === 'string' ? op.input.snapshotId : undefined;
  const plan: Step[] = fromSnapshot
    ? [
        { desired: 'stopped', version: target, adoptVersion: target !== built },
        { desired: 'running', version: target, restoreFrom: fromSnapshot },
      ]
    : op.type === 'create' || op.type === 'start'
      ? [{ desired: 'running', version: target, adoptVersion: target !== built }]
      : op.type === 'stop'
        ? [{ desired: 'stopped', version: built }]
        : op.type === 'restart'
          ? [
              { desired: 'stopped', version: built },
              { desired: 'running', version: built },
            ]
          : op.type === 'rebuild'
            ? [
                { desired: 'stopped', version: built },
                { desired: 'running', version: target, adoptVersion: true },
              ]
            : [{ desired: 'absent', version: built }];

  if (op.type === 'delete') {
    // LOUD: its snapshots' data before the machine (netns: archives beside the workspace directory):
    // marked `deleting` first, so one not deleted now is the sweep's (snapshot-sweep.ts), never forgotten.
    const version = await versionOf(built);
    const provider = await providerHere(version);
    await cp.database.sql`
      update workspace_snapshots set status = 'deleting', name = ${'deleting:'} || id where workspace_id = ${ws.id} and status <> 'deleting'`;
    const all = await cp.database.sql<{ id: string; provider_ref: Record<string, unknown> | null }[]>`
      select id, provider_ref from workspace_snapshots where workspace_id = ${ws.id} and status = 'deleting'`;
    for (const s of all) {
      run.signal.throwIfAborted();
      await call(deleteSnapshotData(cp, provider, ctxFor(version), { id: s.id, ref: s.provider_ref }));
    }
    if (all.length) run.log(`delete: ${all.length} snapshot(s) deleted`);
  }

  for (const step of plan) {
    run.signal.throwIfAborted();
    const version = await versionOf(step.version);
    const provider = await providerHere(version);
    if (provider.hostBound && state) state = { ...state, host: deps.hostId };
    if (step.restoreFrom) {
      // Into this new, stopped workspace: the snapshot of another (claimOperation took this op only on the snapshot's host).
      const [snap] = await cp.database.sql<{ name: string; status: string; provider_ref: Record<string, unknown> | null }[]>`
        select name, status, provider_ref from workspace_snapshots where id = ${step.restoreFrom}`;
      if (!snap || snap.status !== 'ready' || !snap.provider_ref) throw new OperationError('invalid_transition', `snapshot ${step.restoreFrom} is ${snap?.status ?? 'gone'}, not ready`);
      if (!provider.restore) throw new OperationError('snapshot_unsupported', `the ${version.provider} provider cannot restore snapshots`);
      run.log(`create: restoring snapshot ${snap.name}`);
      state = stateToStore(await call(provider.restore(ctxFor(version), { id: step.restoreFrom, ref: snap.provider_ref })), provider.hostBound ? deps.hostId : undefined);
      if (!(await storeProviderState(cp, op.id, ws.id, deps.workerId, state))) {
        run.abort('lost');
        throw new Error('the operation is no longer this worker’s');
      }
    }
    let agent: ProviderContext['agent'];
    if (step.desired === 'running' && ws.agent_id) {
      // A new token at each start: whatever an earlier machine held is refused from now on.
      const rotated = await rotateAgentToken(cp, ws.agent_id).catch((err: unknown) => {
        throw new OperationError('agent_unavailable', `the workspace's agent cannot be given a token: ${(err as Error).message}`);
      });
      run.addSecret(rotated.token); // LOUD: before anything can log it
      agent = { url: deps.agentUrl, token: rotated.token, name: rotated.name, labels: rotated.labels };
    }
    run.log(`${op.type}: converging to ${step.desired} (${version.provider}, template version ${version.version})`);
    const result: ProviderResult = await call(provider.converge(ctxFor(version, agent), step.desired));
    state = stateToStore(result, provider.hostBound && step.desired !== 'absent' ? deps.hostId : undefined);
    // LOUD: stored before the next step and before the end (operation-store.ts storeProviderState).
    if (!(await storeProviderState(cp, op.id, ws.id, deps.workerId, state, step.adoptVersion ? { templateVersion: step.version } : {}))) {
      run.abort('lost');
      throw new Error('the operation is no longer this worker’s');
    }
    run.progress();
  }

  if (op.type === 'delete') {
    if (ws.agent_id) {
      // Its token must not outlive the machine. Already revoked (a takeover): nothing to do.
      await revokeAgent(cp, ws.agent_id).catch((err: unknown) => {
        if ((err as { status?: number }).status !== 404) throw err;
      });
    }
    return true;
  }
  return false;
}

/**
 * What workspaces.provider_state holds: the provider's state, with `resources` (what it runs on)
 * kept beside it for the workspace view (workspace-view.ts reads provider_state.resources).
 */
function stateToStore(result: ProviderResult, host?: string): Record<string, unknown> | null {
  // LOUD: a host-bound provider's workspace keeps its host while it exists (claimOperation reads it).
  if (result.state === null) return host ? { host } : null;
  const state = host ? { ...result.state, host } : result.state;
  return result.resources ? { ...state, resources: result.resources } : state;
}

function paramsWithDefaults(defs: { name: string; default?: string }[], values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of defs ?? []) if (d.default !== undefined) out[d.name] = d.default;
  return { ...out, ...(values ?? {}) };
}

async function snapshotOrRestore(
  deps: EngineDeps,
  op: ClaimedOperation,
  run: OperationRun,
  version: VersionRow,
  ctxFor: (v: VersionRow) => ProviderContext,
  providerOf: (v: VersionRow) => Promise<WorkspaceProvider>,
  call: <T>(work: Promise<T>) => Promise<T>,
): Promise<void> {
  const { cp } = deps;
  const snapshotId = typeof op.input.snapshotId === 'string' ? op.input.snapshotId : undefined;
  if (!snapshotId) throw new OperationError('validation_failed', `a ${op.type} operation needs input.snapshotId`);
  const [snap] = await cp.database.sql<{ id: string; name: string; status: string; provider_ref: Record<string, unknown> | null }[]>`
    select id, name, status, provider_ref from workspace_snapshots where id = ${snapshotId}`;
  if (!snap) throw new OperationError('not_found', `snapshot ${snapshotId} does not exist`);
  const provider = await providerOf(version);

  if (op.type === 'snapshot') {
    if (!provider.snapshot) throw new OperationError('snapshot_unsupported', `the ${version.provider} provider cannot take snapshots`);
    run.log(`snapshot: taking ${snap.name}`);
    const taken = await call(provider.snapshot(ctxFor(version), { id: snap.id, name: snap.name }));
    // Its ref only, while the operation is still ours; `ready` comes with the end (settleSnapshots).
    const stored = await cp.database.sql`
      update workspace_snapshots set provider_ref = ${JSON.stringify(taken.ref)}::jsonb, size_bytes = ${taken.sizeBytes}, operation_id = ${op.id}
      where id = ${snap.id} and status = 'pending'
        and exists (select 1 from workspace_operations o where o.id = ${op.id} and o.claimed_by = ${deps.workerId} and o.status in ('running', 'canceling'))
      returning id`;
    if (stored.length !== 1) {
      run.abort('lost');
      throw new Error('the operation is no longer this worker’s');
    }
    run.log(`snapshot: ${snap.name} taken (${taken.sizeBytes} bytes)`);
    return;
  }

  if (!provider.restore) throw new OperationError('snapshot_unsupported', `the ${version.provider} provider cannot restore snapshots`);
  if (snap.status !== 'ready' || !snap.provider_ref) throw new OperationError('invalid_transition', `snapshot ${snap.name} is ${snap.status}, not ready`);
  run.log(`restore: restoring ${snap.name}`);
  const result = await call(provider.restore(ctxFor(version), { id: snap.id, ref: snap.provider_ref }));
  // LOUD: stored before the end, as after every converge.
  if (!(await storeProviderState(cp, op.id, op.workspaceId, deps.workerId, stateToStore(result, provider.hostBound ? deps.hostId : undefined)))) {
    run.abort('lost');
    throw new Error('the operation is no longer this worker’s');
  }
  run.log(`restore: ${snap.name} restored`);
}
