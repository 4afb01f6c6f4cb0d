import type postgres from 'postgres';
import type { FireRow, ScheduleRow } from './schedule-view.ts';
import { LAST_FIRES_SHOWN } from './schedule-view.ts';
import { toDate, ts } from './timestamp.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

export async function getScheduleRow(sql: Sql, id: string): Promise<ScheduleRow | undefined> {
  const [row] = await sql`select * from schedules where id = ${id}`;
  return row ? scheduleRowFrom(row) : undefined;
}

/** A raw `schedules` row with its times as Dates. */
export function scheduleRowFrom(r: postgres.Row): ScheduleRow {
  return { ...(r as ScheduleRow), next_tick_at: toDate(r.next_tick_at), created_at: toDate(r.created_at), updated_at: toDate(r.updated_at) };
}

/** A raw fire row with its times as Dates. */
export function fireRowFrom(r: postgres.Row): FireRow {
  return { ...(r as FireRow), at: toDate(r.at), fired_at: toDate(r.fired_at) };
}

/** A fire with the status of what it created (jobs or runs by primary key). */
const fireColumns = (sql: Sql) => sql`
  f.schedule_id, f.kind, f.at, f.outcome, f.reason_code, f.reason_message, f.job_id, f.run_id, f.fired_at,
  coalesce((select j.status from jobs j where j.id = f.job_id), (select r.status from runs r where r.id = f.run_id)) as status`;

/** The last fires of a schedule, newest first (schedule_fires_recent_idx). */
export async function recentFires(sql: Sql, scheduleId: string, limit = LAST_FIRES_SHOWN): Promise<FireRow[]> {
  const rows = await sql`
    select ${fireColumns(sql)} from schedule_fires f
    where f.schedule_id = ${scheduleId}
    order by f.at desc nulls last
    limit ${limit}`;
  return rows.map(fireRowFrom);
}

/** The last fire of each schedule listed: one index probe each. */
export async function lastFireOf(sql: Sql, scheduleIds: readonly string[]): Promise<Map<string, FireRow>> {
  if (scheduleIds.length === 0) return new Map();
  const rows = await sql`
    select l.* from unnest(${scheduleIds as string[]}::text[]) as s(id)
    cross join lateral (
      select ${fireColumns(sql)} from schedule_fires f where f.schedule_id = s.id order by f.at desc nulls last limit 1
    ) l`;
  return new Map(rows.map((r) => [r.schedule_id as string, fireRowFrom(r)]));
}

export async function getFire(sql: Sql, key: FireKey): Promise<FireRow | undefined> {
  const [row] = await sql`
    select ${fireColumns(sql)} from schedule_fires f
    where f.schedule_id = ${key.scheduleId} and f.kind = ${key.kind} and f.at = ${ts(key.at)}::timestamptz`;
  return row ? fireRowFrom(row) : undefined;
}

/** A fire's primary key. */
export interface FireKey {
  scheduleId: string;
  kind: 'tick' | 'trigger';
  at: Date;
}
