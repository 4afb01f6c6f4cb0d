import type { Sql, TransactionSql } from 'postgres';
import { attemptAt, chunkPosition, seqAt } from '../chunk-position.ts';

/**
 * For each child, the position (chunk-position.ts) of the last chunk below `below` that `upper`
 * sees, or -1: when a window's first chunk of a child is `below`, every chunk under it that
 * `upper` sees was delivered already (it is not in the window), so this is the last chunk the
 * subscriber has and tells whether the window continues it or starts past a hole. One backward
 * step of the primary key per child.
 */
export async function readDeliveredTails(sql: Sql | TransactionSql, upper: string, probes: { jobId: string; below: number }[]): Promise<Map<string, number>> {
  if (probes.length === 0) return new Map();
  const rows = await sql<{ id: string; attempt: number | null; seq: number | null }[]>`
    select k.id, t.attempt, t.seq
    from unnest(${probes.map((p) => p.jobId)}::text[], ${probes.map((p) => attemptAt(p.below))}::int[], ${probes.map((p) => seqAt(p.below))}::bigint[]) as k(id, attempt, seq)
    left join lateral (
      select o.attempt, o.seq from job_output o
      where o.job_id = k.id and (o.attempt, o.seq) < (k.attempt, k.seq) and pg_visible_in_snapshot(o.xid, ${upper}::pg_snapshot)
      order by o.attempt desc, o.seq desc limit 1
    ) t on true`;
  return new Map(rows.map((r) => [r.id, r.attempt === null || r.seq === null ? -1 : chunkPosition(r.attempt, r.seq)]));
}
