import postgres, { type Sql } from 'postgres';
import { chunkDataSql, chunkSizeSql } from './seed-output.ts';

/**
 * The issue's question: would partitioning job_output by day make retention cheaper? On a scratch
 * database (never the real schema), the same rows twice: a plain table shaped like job_output
 * (primary key (job_id, attempt, seq)) and a copy partitioned by range of created_at, one
 * partition a day. Then the oldest `dropDays` days go from each: batched DELETEs (5,000 rows by
 * ctid, as retention does) against DETACH PARTITION CONCURRENTLY + DROP TABLE. For each: the time,
 * the WAL written, the table's size after, and the worst latency of an INSERT made every 10 ms by
 * another connection meanwhile (a producer's view of the lock).
 */
export interface PartitionResult {
  rowsPerDay: number;
  days: number;
  dropDays: number;
  deleted: { rows: number; ms: number; walBytes: number; sizeBefore: number; sizeAfter: number; sizeAfterVacuum: number; vacuumMs: number; vacuumWalBytes: number; maxInsertMs: number };
  dropped: { ms: number; walBytes: number; sizeBefore: number; sizeAfter: number; maxInsertMs: number };
}

const wal = async (sql: Sql) => BigInt((await sql<{ l: string }[]>`select pg_current_wal_lsn()::text as l`)[0]!.l.split('/').reduce((acc, h, i) => (i === 0 ? BigInt(`0x${h}`) << 32n : acc + BigInt(`0x${h}`)), 0n));
const size = async (sql: Sql, table: string) => Number((await sql.unsafe(`select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as n from pg_class c where c.relname = '${table}' or c.oid in (select inhrelid from pg_inherits where inhparent = '${table}'::regclass)`))[0]!.n);

/** Insert one row every 10 ms through its own connection until stopped; the slowest insert (ms). */
function probeInserts(url: string, table: string): { stop(): Promise<number> } {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let stopped = false;
  let max = 0;
  let seq = 0;
  const loop = (async () => {
    while (!stopped) {
      const t = performance.now();
      await sql.unsafe(`insert into ${table} (job_id, attempt, seq, stream, data, created_at) values ('probe', 1, ${seq++}, 1, 'x', now())`);
      max = Math.max(max, performance.now() - t);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await sql.end();
      return max;
    },
  };
}

export async function comparePartitioning(adminUrl: string, opts: { rowsPerDay: number; days: number; dropDays: number; log: (line: string) => void }): Promise<PartitionResult> {
  const name = `vmo_retention_scratch_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  try {
    const cols = `job_id text not null, attempt integer not null default 1, seq integer not null, stream smallint not null, data bytea not null, created_at timestamptz not null`;
    await sql.unsafe(`create table out_plain (${cols}, primary key (job_id, attempt, seq))`);
    // The partition key must be in the primary key: (job_id, attempt, seq) alone can no longer be
    // unique across partitions, the very key that makes a resent chunk harmless (ON CONFLICT).
    await sql.unsafe(`create table out_part (${cols}, primary key (job_id, attempt, seq, created_at)) partition by range (created_at)`);
    const jobsPerDay = Math.max(1, Math.round(opts.rowsPerDay / 500));
    for (let d = opts.days; d >= 0; d--) {
      await sql.unsafe(`create table out_part_d${d} partition of out_part for values from (date_trunc('day', now()) - interval '${d} days') to (date_trunc('day', now()) - interval '${d - 1} days')`);
    }
    for (let d = opts.days; d >= 1; d--) {
      for (const table of ['out_plain', 'out_part']) {
        await sql.unsafe(
          `insert into ${table} (job_id, attempt, seq, stream, data, created_at)
           select 'day${d}-' || j, 1, s, 1, ${chunkDataSql(`j::text || s::text`, chunkSizeSql('s'))}, date_trunc('day', now()) - interval '${d} days' + interval '1 hour' + j * interval '1 second'
           from generate_series(1, ${jobsPerDay}) j, generate_series(0, 499) s`,
        );
      }
      opts.log(`partition compare: day ${d} loaded (${jobsPerDay * 500} rows in each table)`);
    }
    await sql.unsafe('vacuum analyze out_plain');
    await sql.unsafe('vacuum analyze out_part');
    await sql.unsafe('checkpoint');

    // Batched DELETE, as retention does it: the oldest days' jobs, 5,000 rows a statement.
    const oldest = Array.from({ length: opts.dropDays }, (_, i) => opts.days - i);
    const jobIds = oldest.flatMap((d) => Array.from({ length: jobsPerDay }, (_, j) => `day${d}-${j + 1}`));
    const plainBefore = await size(sql, 'out_plain');
    let probe = probeInserts(url, 'out_plain');
    let wal0 = await wal(sql);
    let t0 = performance.now();
    let rows = 0;
    for (;;) {
      const r = await sql`delete from out_plain where ctid = any(array(select ctid from out_plain where job_id = any(${jobIds}::text[]) limit 5000))`;
      rows += r.count;
      if (r.count < 5000) break;
    }
    const deleteMs = performance.now() - t0;
    const deleteWal = Number((await wal(sql)) - wal0);
    const deleteMaxInsert = await probe.stop();
    const plainAfter = await size(sql, 'out_plain');
    wal0 = await wal(sql);
    t0 = performance.now();
    await sql.unsafe('vacuum out_plain');
    const vacuumMs = performance.now() - t0;
    const vacuumWal = Number((await wal(sql)) - wal0);
    const plainAfterVacuum = await size(sql, 'out_plain');
    opts.log(`partition compare: batched delete of ${rows} rows done`);

    // DETACH … CONCURRENTLY (no lock on the parent that blocks inserts) then DROP: per day.
    const partBefore = await size(sql, 'out_part');
    probe = probeInserts(url, 'out_part');
    wal0 = await wal(sql);
    t0 = performance.now();
    for (const d of oldest) {
      await sql.unsafe(`alter table out_part detach partition out_part_d${d} concurrently`);
      await sql.unsafe(`drop table out_part_d${d}`);
    }
    const dropMs = performance.now() - t0;
    const dropWal = Number((await wal(sql)) - wal0);
    const dropMaxInsert = await probe.stop();
    const partAfter = await size(sql, 'out_part');
    opts.log('partition compare: partitions dropped');
    return {
      rowsPerDay: jobsPerDay * 500,
      days: opts.days,
      dropDays: opts.dropDays,
      deleted: { rows, ms: deleteMs, walBytes: deleteWal, sizeBefore: plainBefore, sizeAfter: plainAfter, sizeAfterVacuum: plainAfterVacuum, vacuumMs, vacuumWalBytes: vacuumWal, maxInsertMs: deleteMaxInsert },
      dropped: { ms: dropMs, walBytes: dropWal, sizeBefore: partBefore, sizeAfter: partAfter, maxInsertMs: dropMaxInsert },
    };
  } finally {
    await sql.end();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
