/**
 * Issue 14, Retention: measure what deleting a million old output rows costs a job that streams
 * meanwhile, and whether partitioning job_output by day would make retention cheaper. NOT part of
 * the test suite or of `npm run bench`: run it alone, on a quiet machine, and read the numbers.
 *
 *   npx tsx bench/src/retention-measure.ts [--rows 1000000] [--pause 10] [--baseline-s 20] [--partition-rows-per-day 100000] [--skip-partition]
 *
 * 1. A real control plane (TestSystem: API and worker processes, own database and Redis prefix),
 *    its workers' retention loop off. `--rows` job_output rows (realistic chunk sizes, 500 chunks
 *    to a job) of jobs that ended 40 days ago are inserted, then a checkpoint.
 * 2. Baseline: a local job writes a line every 10 ms, followed over the job's WebSocket stream;
 *    the longest gap between two delivered frames, and between two stored batches.
 * 3. The same job again while the retention pass (the worker's own code, @vmo/shared/retention,
 *    with its production batches and `--pause`) deletes the old jobs: the same gaps during the
 *    deletion, its rate and the WAL it wrote.
 * 4. On a scratch database: batched DELETE against DETACH PARTITION + DROP (partition-compare.ts).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openDatabase } from '@vmo/shared/db';
import { RETENTION_PAUSE_MS } from '@vmo/shared/domain';
import { RETENTION_BATCHES, runRetentionPass } from '@vmo/shared/retention';
import { TestSystem } from '@vmo/testkit';
import { cleanUpOnSignals, registerCleanup } from './interrupt-cleanup.ts';
import { maxGap, p99Gap, startLiveJob } from './retention/live-job.ts';
import { comparePartitioning } from './retention/partition-compare.ts';
import { seedEndedJobsWithOutput } from './retention/seed-output.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    pause: { type: 'string', default: String(RETENTION_PAUSE_MS) },
    'baseline-s': { type: 'string', default: '20' },
    'partition-rows-per-day': { type: 'string', default: '100000' },
    'skip-partition': { type: 'boolean', default: false },
  },
});
const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

cleanUpOnSignals();
const rows = Number(args.rows);
const pauseMs = Number(args.pause);
const system = await TestSystem.start({ label: 'retention-measure', env: { VMO_RETENTION_DAYS: '0', VMO_AUDIT_RETENTION_DAYS: '0' } });
registerCleanup(() => system.stop());
const database = openDatabase(system.databaseUrl, { max: 4 });
const sql = database.sql;
const walNow = async () => (await sql<{ l: string }[]>`select pg_current_wal_lsn()::text as l`)[0]!.l;
const walSince = async (from: string) => Number((await sql<{ n: string }[]>`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${from}::pg_lsn)::bigint as n`)[0]!.n);
/** Gaps between the consecutive stored batches of a job (created_at is its insert's transaction time). */
const storedTimes = async (jobId: string) =>
  (await sql<{ t: string }[]>`select distinct extract(epoch from created_at) * 1000 as t from job_output where job_id = ${jobId} order by 1`).map((r) => Number(r.t));

try {
  say(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // 1. The old output.
  const chunksPerJob = 500;
  const t0 = performance.now();
  let lastReport = 0;
  const seeded = await seedEndedJobsWithOutput(sql, {
    jobs: Math.ceil(rows / chunksPerJob),
    chunksPerJob,
    daysAgo: 40,
    onProgress: (n) => {
      if (n - lastReport >= 100_000) {
        lastReport = n;
        say(`seeded ${n} rows`);
      }
    },
  });
  await sql`vacuum analyze job_output`;
  await sql`checkpoint`;
  const [stats] = await sql<{ rows: number; bytes: string; size: string }[]>`
    select count(*)::int as rows, sum(octet_length(data))::bigint as bytes, pg_total_relation_size('job_output')::bigint as size from job_output`;
  say(`seeded ${stats!.rows} rows of ${seeded.length} jobs (${mib(Number(stats!.bytes))} of chunks, table ${mib(Number(stats!.size))}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  // 2. Baseline: the live job with nothing else going on.
  const baselineS = Number(args['baseline-s']);
  const base = await startLiveJob(system, baselineS + 5);
  const b0 = Date.now();
  await new Promise((r) => setTimeout(r, baselineS * 1000));
  const b1 = Date.now();
  await base.stop();
  const baseStored = await storedTimes(base.id);
  const baseline = { frameMaxMs: maxGap(base.arrivals, b0, b1), frameP99Ms: p99Gap(base.arrivals, b0, b1), storedMaxMs: maxGap(baseStored, b0, b1), frames: base.arrivals.length };
  say(`baseline: max gap ${baseline.frameMaxMs} ms between frames (p99 ${baseline.frameP99Ms} ms), ${baseline.storedMaxMs.toFixed(0)} ms between stored batches`);

  // 3. The same job while retention deletes the old jobs.
  const live = await startLiveJob(system, 600);
  await new Promise((r) => setTimeout(r, 2000));
  const wal0 = await walNow();
  const d0 = Date.now();
  const counts = await runRetentionPass({ database, log: pino({ level: 'silent' }) }, { policy: { jobDays: 30, outputDays: 30, auditDays: null }, pauseMs });
  const d1 = Date.now();
  const walBytes = await walSince(wal0);
  await new Promise((r) => setTimeout(r, 2000));
  await live.stop();
  const liveStored = await storedTimes(live.id);
  const during = { frameMaxMs: maxGap(live.arrivals, d0, d1), frameP99Ms: p99Gap(live.arrivals, d0, d1), storedMaxMs: maxGap(liveStored, d0, d1) };
  const seconds = (d1 - d0) / 1000;
  const [after] = await sql<{ size: string }[]>`select pg_total_relation_size('job_output')::bigint as size`;
  say(
    `deletion: ${counts.outputRows} output rows of ${counts.jobs} jobs in ${seconds.toFixed(1)} s (${Math.round(counts.outputRows / seconds)} rows/s), ` +
      `${counts.statements.outputRows} output statements (largest ${counts.largest.outputRows}), ${counts.statements.jobs} job statements (largest ${counts.largest.jobs}), pause ${pauseMs} ms, ` +
      `WAL ${mib(walBytes)}, table ${mib(Number(after!.size))} after (before VACUUM: the space is reused, not returned)`,
  );
  say(`during deletion: max gap ${during.frameMaxMs} ms between frames (p99 ${during.frameP99Ms} ms), ${during.storedMaxMs.toFixed(0)} ms between stored batches`);

  const result: Record<string, unknown> = {
    batches: RETENTION_BATCHES,
    pauseMs,
    seeded: { rows: stats!.rows, jobs: seeded.length, chunkBytes: Number(stats!.bytes), tableBytes: Number(stats!.size) },
    baseline,
    deletion: { ...during, seconds, outputRows: counts.outputRows, jobs: counts.jobs, rowsPerSecond: Math.round(counts.outputRows / seconds), walBytes, statements: counts.statements, largest: counts.largest },
  };

  // 4. Partitioning, on a scratch database.
  if (!args['skip-partition']) {
    const adminUrl = Object.assign(new URL(system.databaseUrl), { pathname: '/postgres' }).toString();
    const p = await comparePartitioning(adminUrl, { rowsPerDay: Number(args['partition-rows-per-day']), days: 10, dropDays: 5, log: say });
    result.partition = p;
    say(
      `partition compare (${p.days} days of ${p.rowsPerDay} rows, oldest ${p.dropDays} go): batched DELETE ${p.deleted.rows} rows ${(p.deleted.ms / 1000).toFixed(1)} s, WAL ${mib(p.deleted.walBytes)}, ` +
        `size ${mib(p.deleted.sizeBefore)} → ${mib(p.deleted.sizeAfter)} (after VACUUM ${mib(p.deleted.sizeAfterVacuum)}, ${(p.deleted.vacuumMs / 1000).toFixed(1)} s, WAL ${mib(p.deleted.vacuumWalBytes)}), worst insert meanwhile ${p.deleted.maxInsertMs.toFixed(0)} ms; ` +
        `DETACH CONCURRENTLY + DROP ${(p.dropped.ms / 1000).toFixed(1)} s, WAL ${mib(p.dropped.walBytes)}, size ${mib(p.dropped.sizeBefore)} → ${mib(p.dropped.sizeAfter)}, worst insert meanwhile ${p.dropped.maxInsertMs.toFixed(0)} ms`,
    );
  }
  say(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await database.close();
  await system.stop();
}
