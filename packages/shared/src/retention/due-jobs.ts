import type { Sql } from 'postgres';
import { daysBefore } from '../domain/retention.ts';
import { jobEnded, jobRunEnded, runEnded } from './ended.ts';

/**
 * Which ended jobs (and runs) are past their retention at `now`: at most `limit` ids, oldest end
 * first. Each is an index seek (db/schema jobs_retention_idx, jobs_retention_own_idx and the
 * runs' pair), never a scan of what is kept, however long the history:
 * - on the defaults (`retain_days` null): ended before `now − defaultDays`, one range of the index;
 * - with their own `retainDays`: walked one distinct value at a time (a loose index scan: a few
 *   values in practice, each found by one probe), each value a range of its own.
 * `defaultDays` null: the defaults keep forever, only jobs with their own retainDays are due.
 * A run's child waits for its run to end (jobRunEnded says why).
 */
export async function dueJobIds(sql: Sql, q: { now: Date; defaultDays: number | null; limit: number }): Promise<string[]> {
  const ids: string[] = [];
  if (q.defaultDays !== null) {
    const cutoff = daysBefore(q.now, q.defaultDays);
    const rows = await sql<{ id: string }[]>`
      select id from jobs
      where retain_days is null and ${jobEnded(sql)} and finished_at < ${cutoff.toISOString()}::timestamptz and ${jobRunEnded(sql)}
      order by finished_at, id
      limit ${q.limit}`;
    ids.push(...rows.map((r) => r.id));
  }
  if (ids.length < q.limit) {
    const rows = await sql<{ id: string }[]>`
      with recursive d(days) as (
        (select retain_days from jobs where retain_days is not null and ${jobEnded(sql)} order by retain_days limit 1)
        union all
        select (select j.retain_days from jobs j where j.retain_days is not null and ${jobEnded(sql)} and j.retain_days > d.days order by j.retain_days limit 1)
        from d where d.days is not null
      )
      select j.id from d cross join lateral (
        select id, finished_at from jobs
        where retain_days = d.days and ${jobEnded(sql)} and finished_at < ${q.now.toISOString()}::timestamptz - d.days * interval '24 hours' and ${jobRunEnded(sql)}
        order by finished_at, id
        limit ${q.limit - ids.length}
      ) j
      order by j.finished_at, j.id
      limit ${q.limit - ids.length}`;
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

/**
 * Ended runs past their retention whose children are all gone (retention deletes a run's
 * children first: they carry the run's retainDays and ended before it). Same shape as dueJobIds.
 */
export async function dueRunIds(sql: Sql, q: { now: Date; defaultDays: number | null; limit: number }): Promise<string[]> {
  const childless = sql`not exists (select 1 from jobs c where c.run_id = r.id)`;
  const ids: string[] = [];
  if (q.defaultDays !== null) {
    const cutoff = daysBefore(q.now, q.defaultDays);
    const rows = await sql<{ id: string }[]>`
      select r.id from runs r
      where r.retain_days is null and ${runEnded(sql)} and r.finished_at < ${cutoff.toISOString()}::timestamptz and ${childless}
      order by r.finished_at, r.id
      limit ${q.limit}`;
    ids.push(...rows.map((r) => r.id));
  }
  if (ids.length < q.limit) {
    const rows = await sql<{ id: string }[]>`
      with recursive d(days) as (
        (select retain_days from runs where retain_days is not null and ${runEnded(sql)} order by retain_days limit 1)
        union all
        select (select x.retain_days from runs x where x.retain_days is not null and ${runEnded(sql)} and x.retain_days > d.days order by x.retain_days limit 1)
        from d where d.days is not null
      )
      select r.id from d cross join lateral (
        select r.id, r.finished_at from runs r
        where r.retain_days = d.days and ${runEnded(sql)} and r.finished_at < ${q.now.toISOString()}::timestamptz - d.days * interval '24 hours' and ${childless}
        order by r.finished_at, r.id
        limit ${q.limit - ids.length}
      ) r
      order by r.finished_at, r.id
      limit ${q.limit - ids.length}`;
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}
