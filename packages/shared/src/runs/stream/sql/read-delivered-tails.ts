import type { Sql, TransactionSql } from 'postgres';

/**
 * For each child, the highest seq below `below` that `upper` sees, or -1: when a window's first
 * chunk of a child is `below`, every chunk under it that `upper` sees was delivered already (it
 * is not in the window), so this is the last chunk the subscriber has and tells whether the
 * window continues it or starts past a hole. One backward step of the primary key per child.
 */
export async function readDeliveredTails(sql: Sql | TransactionSql, upper: string, probes: { jobId: string; below: number }[]): Promise<Map<string, number>> {
  if (probes.length === 0) return new Map();
  const rows = await sql<{ id: string; last: number | null }[]>`
    select k.id, (
      select o.seq from job_output o
      where o.job_id = k.id and o.attempt = (select greatest(j.attempt, 1) from jobs j where j.id = k.id) and o.seq < k.below and pg_visible_in_snapshot(o.xid, ${upper}::pg_snapshot)
      order by o.seq desc limit 1
    ) as last
    from unnest(${probes.map((p) => p.jobId)}::text[], ${probes.map((p) => p.below)}::int[]) as k(id, below)`;
  return new Map(rows.map((r) => [r.id, r.last ?? -1]));
}
