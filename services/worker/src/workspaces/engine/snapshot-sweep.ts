import type { ControlPlane } from '@vmo/shared/control-plane';
import type { ProviderContext, WorkspaceProvider } from '@vmo/shared/workspaces';

/**
 * Deleting snapshots' data (issue 18). DELETE …/snapshots/{sid} marks the row `deleting`
 * (snapshot-service.ts); the engine of the host holding the data (provider_state.host, or any when
 * unbound) deletes it with provider.deleteSnapshot and then the row. A workspace's delete does the
 * same for all its snapshots before converge(absent) (run-operation.ts).
 * LOUD: the row goes only AFTER the data: it is the only record of where the data is.
 */

interface DeletingRow {
  id: string;
  workspace_id: string;
  workspace_name: string;
  provider_ref: Record<string, unknown> | null;
  provider: string;
  config: Record<string, unknown>;
  params: Record<string, string> | null;
  provider_state: Record<string, unknown> | null;
}

/** The data of one snapshot, then its row. A provider without deleteSnapshot, or a snapshot without a ref (never taken), has no data. */
export async function deleteSnapshotData(cp: ControlPlane, provider: WorkspaceProvider | undefined, ctx: ProviderContext, snapshot: { id: string; ref: Record<string, unknown> | null }): Promise<void> {
  if (snapshot.ref && provider?.deleteSnapshot) await provider.deleteSnapshot(ctx, { id: snapshot.id, ref: snapshot.ref });
  await cp.database.sql`delete from workspace_snapshots where id = ${snapshot.id} and status = 'deleting'`;
}

/** One pass: up to 20 `deleting` snapshots of workspaces unbound or bound to `hostId`. A failure is logged and tried again next pass. */
export async function sweepDeletingSnapshots(cp: ControlPlane, hostId: string, providerFor: (kind: string) => WorkspaceProvider | undefined, signal: AbortSignal): Promise<number> {
  const rows = await cp.database.sql<DeletingRow[]>`
    select s.id, s.workspace_id, w.name as workspace_name, s.provider_ref, tv.provider, tv.config, w.params, w.provider_state
    from workspace_snapshots s
    join workspaces w on w.id = s.workspace_id
    join template_versions tv on tv.template_id = w.template_id and tv.version = w.template_version
    where s.status = 'deleting' and (w.provider_state->>'host' is null or w.provider_state->>'host' = ${hostId})
    order by s.created_at limit 20`;
  let done = 0;
  for (const r of rows) {
    if (signal.aborted) break;
    const provider = providerFor(r.provider);
    if (r.provider_ref && !provider) continue; // another worker's provider: leave it to one that has it
    const ctx: ProviderContext = {
      workspaceId: r.workspace_id,
      workspaceName: r.workspace_name,
      config: r.config,
      params: r.params ?? {},
      state: r.provider_state,
      log: (line) => cp.log.info({ workspaceId: r.workspace_id, snapshotId: r.id }, line),
      signal,
    };
    try {
      await deleteSnapshotData(cp, provider, ctx, { id: r.id, ref: r.provider_ref });
      done++;
    } catch (err) {
      cp.log.warn({ snapshotId: r.id, err: (err as Error).message }, 'snapshot data not deleted (tried again later)');
    }
  }
  return done;
}
