import type { Sql } from 'postgres';

/**
 * Settled schedule fires (db/schema schedules.ts) older than `cutoff`: at most `limit` per call,
 * oldest first (schedule_fires_settled_at_idx). A fire not settled (its job or run may still be
 * going, or `pending`) is never touched: the overlap check and the repair sweep read those.
 */
export async function pruneScheduleFires(sql: Sql, cutoff: Date, limit: number): Promise<number> {
  const result = await sql`
    delete from schedule_fires
    where ctid = any(array(select ctid from schedule_fires where settled and at < ${cutoff.toISOString()}::timestamptz order by at limit ${limit}))`;
  return result.count;
}

/**
 * Audit rows older than `cutoff`: at most `limit` per call, oldest first (audit_events_at_idx).
 * LOUD: audit_events is append-only: its trigger refuses every UPDATE and DELETE, except a DELETE
 * in a transaction that set `vmo.audit_retention` (migration 0010). This is that one writer; the
 * setting is local to its transaction, so nothing else ever runs with it.
 */
export async function pruneAuditEvents(sql: Sql, cutoff: Date, limit: number): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`select set_config('vmo.audit_retention', 'on', true)`;
    const result = await tx`
      delete from audit_events
      where id = any(array(select id from audit_events where at < ${cutoff.toISOString()}::timestamptz order by at limit ${limit}))`;
    return result.count;
  });
}
