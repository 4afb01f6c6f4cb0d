import { newId } from '../domain/ids.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { computeSshConfigCooperatively, type SkippedAlias, type SshConfigWarning } from './compute-ssh-config.ts';
import { HostInput, type SshConfigImportInput } from './host-input.ts';
import { hostView, type HostView } from './host-view.ts';
import { rowToHost } from './row-to-host.ts';
import { markChanged } from '../bus/change-notifier.ts';

export interface ImportResult {
  created: HostView[];
  updated: HostView[];
  /** Aliases whose host already had exactly these settings. */
  unchanged: HostView[];
  skipped: SkippedAlias[];
  /** Lines imported with another meaning than ssh gives them (e.g. StrictHostKeyChecking no). */
  warnings: SshConfigWarning[];
}

/** Rows per INSERT: one round trip per thousand hosts instead of one per host. */
const BATCH = 1000;

/**
 * POST /v1/hosts/import: one host per concrete alias, named after the alias, in `environment`.
 * An existing host of that name is updated in its address, user, port, identity file and
 * ProxyJump; its labels, description, host key policy and pinned keys are left alone (a pinned
 * key keeps protecting a host whose address changed: the operator re-trusts explicitly).
 * All or nothing: one transaction. The config is evaluated in slices between which the event loop
 * runs, so a large import does not hold up other requests.
 */
export async function importSshConfig(cp: ControlPlane, input: SshConfigImportInput): Promise<ImportResult> {
  const { hosts: computed, skipped, warnings } = await computeSshConfigCooperatively(input.config);
  const result: ImportResult = { created: [], updated: [], unchanged: [], skipped, warnings };
  const rows: HostInput[] = [];
  for (const c of computed) {
    const checked = HostInput.safeParse({ name: c.alias, environment: input.environment, host: c.host, user: c.user, port: c.port, identityFile: c.identityFile, proxyJump: c.proxyJump, hostKeyPolicy: c.hostKeyPolicy });
    if (checked.success) rows.push(checked.data);
    else {
      const issue = checked.error.issues[0]!;
      skipped.push({ alias: c.alias, reason: `${issue.path.join('.')}: ${issue.message}` });
    }
  }
  const imported = new Set(rows.map((h) => h.name));
  result.warnings = warnings.map((w) => ({ ...w, aliases: w.aliases.filter((a) => imported.has(a)) })).filter((w) => w.aliases.length > 0);
  const order = new Map(rows.map((h, i) => [h.name, i]));
  await cp.database.sql.begin(async (tx) => {
    for (let start = 0; start < rows.length; start += BATCH) {
      const batch = rows.slice(start, start + BATCH);
      const col = <K extends keyof HostInput>(k: K) => batch.map((h) => h[k]);
      // xmax = 0 only for a freshly inserted row: tells created from updated in one statement.
      const returned = await tx`
        insert into hosts (id, name, environment, host, "user", port, identity_file, proxy_jump, host_key_policy)
        select * from unnest(
          ${batch.map(() => newId('host'))}::text[], ${col('name')}::text[], ${col('environment')}::text[], ${col('host')}::text[],
          ${col('user')}::text[], ${col('port')}::int[], ${col('identityFile')}::text[], ${col('proxyJump')}::text[], ${col('hostKeyPolicy')}::text[])
        on conflict (name, environment) do update set
          host = excluded.host, "user" = excluded."user", port = excluded.port,
          identity_file = excluded.identity_file, proxy_jump = excluded.proxy_jump,
          updated_at = case
            when (hosts.host, hosts."user", hosts.port, hosts.identity_file, hosts.proxy_jump)
                 is not distinct from (excluded.host, excluded."user", excluded.port, excluded.identity_file, excluded.proxy_jump)
            then hosts.updated_at else now() end
        returning *, (xmax = 0) as inserted, (updated_at = now()) as touched`;
      // RETURNING order is not the input order: answer in the config's order.
      for (const row of [...returned].sort((a, b) => order.get(a.name)! - order.get(b.name)!)) {
        const view = hostView(rowToHost(row));
        if (row.inserted) result.created.push(view);
        else if (row.touched) result.updated.push(view);
        else result.unchanged.push(view);
      }
    }
  });
  // Dashboards (BUS.md §10), after the commit; an import that changed nothing says nothing.
  if (result.created.length > 0 || result.updated.length > 0) markChanged(cp, 'hosts');
  return result;
}
