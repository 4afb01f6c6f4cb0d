import type { RowFilter } from '../access/row-filter.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { labelSelectorSql } from '../db/label-selector-sql.ts';
import type { LabelSelector } from '../domain/label-selector.ts';
import type { TargetKind } from '../domain/target-kind.ts';
import { agentsPresence } from '../presence/agent-presence.ts';

export interface Target {
  kind: TargetKind;
  id: string;
  /** An agent's name; a host's `name@environment` (its ref: host names repeat across environments). */
  name: string;
  labels: Record<string, string>;
  /** Agents: from presence; `null` when presence could not be read (never a verdict) and for hosts. */
  online: boolean | null;
}

export interface PreviewTargetsQuery {
  selector: LabelSelector;
  kinds: readonly TargetKind[];
  limit: number;
  /** Only the agents and hosts the caller may read (@vmo/shared/access); all when absent. */
  visibleTo?: { agents: RowFilter; hosts: RowFilter };
}

/**
 * What a selector matches now, without running anything: agents (their registered labels over
 * what they reported, as the agent view merges them; revoked agents never match) and inventory
 * hosts (deleted hosts are gone), sorted by kind then name, the first `limit` of `total`.
 *
 * The selector is evaluated in Postgres (db/label-selector-sql.ts), one query per kind with the
 * total as a window count: only the rows returned cross the wire, whatever the size of the fleet.
 */
export async function previewTargets(cp: ControlPlane, q: PreviewTargetsQuery): Promise<{ items: Target[]; total: number }> {
  const sql = cp.database.sql;
  const items: Target[] = [];
  let total = 0;

  if (q.kinds.includes('agent')) {
    // The operator's registered labels win over the reported ones on the same key (`||`: right wins).
    const labels = sql`(reported_labels || labels)`;
    const rows = await sql<{ id: string; name: string; labels: Record<string, string>; total: number }[]>`
      select id, name, ${labels} as labels, count(*) over ()::int as total
      from agents
      where revoked_at is null and ${labelSelectorSql(sql, labels, q.selector)} ${q.visibleTo ? sql`and ${q.visibleTo.agents('agents')}` : sql``}
      order by name collate "C", id
      limit ${q.limit}`;
    total += rows[0]?.total ?? 0; // the window count rides on the rows: none back, none matched
    const presence = await agentsPresence(cp, rows.map((r) => r.id));
    rows.forEach((r, i) => items.push({ kind: 'agent', id: r.id, name: r.name, labels: r.labels, online: presence[i] === 'unknown' ? null : presence[i] === 'online' }));
  }

  if (q.kinds.includes('ssh')) {
    const room = q.limit - items.length;
    const labels = sql`labels`;
    const rows = await sql<{ id: string; name: string; labels: Record<string, string>; total: number }[]>`
      select id, name || '@' || environment as name, labels, count(*) over ()::int as total
      from hosts
      where ${labelSelectorSql(sql, labels, q.selector)} ${q.visibleTo ? sql`and ${q.visibleTo.hosts('hosts')}` : sql``}
      order by name collate "C", environment collate "C", id
      limit ${Math.max(room, 1)}`;
    total += rows[0]?.total ?? 0;
    // At least one row is asked for even when the page is full of agents: it carries the hosts' count.
    for (const r of rows.slice(0, room)) items.push({ kind: 'ssh', id: r.id, name: r.name, labels: r.labels, online: null });
  }

  return { items, total };
}

