import type { TransactionSql } from 'postgres';
import { newId } from '../../domain/ids.ts';
import { hostView, type HostView } from '../host-view.ts';
import { rowToHost } from '../row-to-host.ts';
import type { ImportCandidate, SkippedEntry } from './ansible-candidates.ts';

/** Rows per statement: one round trip per thousand hosts. */
const BATCH = 1000;
const MAX_LABELS = 64;

export interface UpsertOutcome {
  created: HostView[];
  updated: HostView[];
  unchanged: HostView[];
  /** Hosts whose labels (their own and the import's) would be over the limit. */
  skipped: SkippedEntry[];
}

/**
 * Create or update the candidates in one transaction (the caller's), keyed by name@environment.
 * An existing host gets the inventory's address, user and port, and its labels become the ones
 * it had that the import does not own plus the import's (`ownsLabel`: `group.*` for Ansible, `env`
 * for vm-config), so a host that left a group loses that label and labels added by hand stay.
 * Its description, identity file, ProxyJump, host key policy, pinned keys and job limit are left
 * alone; a new host gets the defaults (hostKeyPolicy strict: pin its key, or PATCH it to
 * accept-new). Answers in the candidates' order.
 */
export async function upsertImportedHosts(tx: TransactionSql, candidates: ImportCandidate[], ownsLabel: (key: string) => boolean): Promise<UpsertOutcome> {
  const outcome: UpsertOutcome = { created: [], updated: [], unchanged: [], skipped: [] };
  const ref = (c: { name: string; environment: string }) => `${c.name}@${c.environment}`;
  for (let start = 0; start < candidates.length; start += BATCH) {
    const batch = candidates.slice(start, start + BATCH);
    // LOUD: read under the row locks the write will need, so a label added by hand meanwhile is not lost.
    const existing = await tx<{ name: string; environment: string; labels: Record<string, string> }[]>`
      select name, environment, labels from hosts
      where (name, environment) in (select * from unnest(${batch.map((c) => c.name)}::text[], ${batch.map((c) => c.environment)}::text[]))
      order by id
      for update`;
    const current = new Map(existing.map((r) => [ref(r), r.labels]));
    const rows: (ImportCandidate & { labelsJson: string })[] = [];
    for (const c of batch) {
      const kept = Object.entries(current.get(ref(c)) ?? {}).filter(([k]) => !ownsLabel(k));
      const labels = { ...Object.fromEntries(kept), ...c.labels };
      const count = Object.keys(labels).length;
      if (count > MAX_LABELS) {
        outcome.skipped.push({ alias: c.name, reason: `would carry ${count} labels (${kept.length} of its own and ${Object.keys(c.labels).length} from the import), over the limit of ${MAX_LABELS}`, ...(c.line === undefined ? {} : { line: c.line }), ...(c.file === undefined ? {} : { file: c.file }) });
        continue;
      }
      rows.push({ ...c, labelsJson: JSON.stringify(labels) });
    }
    if (rows.length === 0) continue;
    const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
    // xmax = 0 only for a freshly inserted row; updated_at moves only when something changed.
    const returned = await tx`
      insert into hosts (id, name, environment, host, "user", port, labels)
      select id, name, environment, host, "user", port, labels::jsonb from unnest(
        ${rows.map(() => newId('host'))}::text[], ${col('name')}::text[], ${col('environment')}::text[], ${col('host')}::text[],
        ${col('user')}::text[], ${col('port')}::int[], ${col('labelsJson')}::text[]) as t(id, name, environment, host, "user", port, labels)
      on conflict (name, environment) do update set
        host = excluded.host, "user" = excluded."user", port = excluded.port, labels = excluded.labels,
        updated_at = case
          when (hosts.host, hosts."user", hosts.port, hosts.labels) is not distinct from (excluded.host, excluded."user", excluded.port, excluded.labels)
          then hosts.updated_at else now() end
      returning *, (xmax = 0) as inserted, (updated_at = now()) as touched`;
    const order = new Map(rows.map((r, i) => [ref(r), i]));
    for (const row of [...returned].sort((a, b) => order.get(ref(a as never))! - order.get(ref(b as never))!)) {
      const view = hostView(rowToHost(row));
      if (row.inserted) outcome.created.push(view);
      else if (row.touched) outcome.updated.push(view);
      else outcome.unchanged.push(view);
    }
  }
  return outcome;
}
