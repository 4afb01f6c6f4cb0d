import { newId } from '../ids.ts';
import type { ControlPlane } from '../jobs/control-plane.ts';
import { computeSshConfig, type SkippedAlias } from './compute-ssh-config.ts';
import { HostInput, type HostImportInput } from './host-input.ts';
import { hostView, type HostView } from './host-view.ts';
import { rowToHost } from './row-to-host.ts';

export interface ImportResult {
  created: HostView[];
  updated: HostView[];
  /** Aliases whose host already had exactly these settings. */
  unchanged: HostView[];
  skipped: SkippedAlias[];
}

/**
 * POST /v1/hosts/import: one host per concrete alias, named after the alias, in `environment`.
 * An existing host of that name is updated in its address, user, port, identity file and
 * ProxyJump; its labels, description, host key policy and pinned keys are left alone (a pinned
 * key keeps protecting a host whose address changed: the operator re-trusts explicitly).
 * All or nothing: one transaction.
 */
export async function importSshConfig(cp: ControlPlane, input: HostImportInput): Promise<ImportResult> {
  const { hosts: computed, skipped } = computeSshConfig(input.config);
  const result: ImportResult = { created: [], updated: [], unchanged: [], skipped };
  await cp.database.sql.begin(async (tx) => {
    for (const c of computed) {
      const checked = HostInput.safeParse({ name: c.alias, environment: input.environment, host: c.host, user: c.user, port: c.port, identityFile: c.identityFile, proxyJump: c.proxyJump, hostKeyPolicy: c.hostKeyPolicy });
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        skipped.push({ alias: c.alias, reason: `${issue.path.join('.')}: ${issue.message}` });
        continue;
      }
      const h = checked.data;
      // xmax = 0 only for a freshly inserted row: tells created from updated in one statement.
      const [row] = await tx`
        insert into hosts (id, name, environment, host, "user", port, identity_file, proxy_jump, host_key_policy)
        values (${newId('host')}, ${h.name}, ${h.environment}, ${h.host}, ${h.user}, ${h.port}, ${h.identityFile}, ${h.proxyJump}, ${h.hostKeyPolicy})
        on conflict (name, environment) do update set
          host = excluded.host, "user" = excluded."user", port = excluded.port,
          identity_file = excluded.identity_file, proxy_jump = excluded.proxy_jump,
          updated_at = case
            when (hosts.host, hosts."user", hosts.port, hosts.identity_file, hosts.proxy_jump)
                 is not distinct from (excluded.host, excluded."user", excluded.port, excluded.identity_file, excluded.proxy_jump)
            then hosts.updated_at else now() end
        returning *, (xmax = 0) as inserted, (updated_at = now()) as touched`;
      const view = hostView(rowToHost(row!));
      if (row!.inserted) result.created.push(view);
      else if (row!.touched) result.updated.push(view);
      else result.unchanged.push(view);
    }
  });
  return result;
}
