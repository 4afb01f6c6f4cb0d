import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import postgresPackage from 'postgres';
import { PostgresPair, TestSystem, waitFor } from '@vmo/testkit';
import { migrateDatabase } from '@vmo/shared/db';
import { FailoverLoad } from './failover-load.ts';

/**
 * Issue 19, the asynchronous standby's loss window for LOCAL jobs (jobs run by the worker as its
 * own child processes). The primary crashes with its standby 500 ms behind, and the standby is
 * promoted: what the primary committed in those 500 ms is gone. For a local job running then, that
 * is its `running → ended` write (the worker was told it landed; the new primary still says
 * `running` under a live worker), or its `queued → running` one. Before the fix such a job stayed
 * `running` for good: its worker is alive (the lost-worker sweep acts on dead workers only) and had
 * finished with it. Now a worker ends the `running` rows under its own id that it does not hold
 * (services/worker/src/lost-worker-sweep.ts, own-jobs.ts): with the end it remembers writing, else
 * as `lost`.
 *
 * The window is made to hold both losses for sure: CONCURRENCY jobs fill the worker's slots,
 * waiting on a flag file, with as many queued behind them. The flag is raised once the primary's
 * WAL sender is stopped: the first ones end inside the window (their ends lost: `running` on the
 * new primary), the queued ones start inside it (their starts lost: `queued` there) and run on for
 * seconds past the promotion, when their ends meet a `queued` row.
 *
 * Asserted: every job the new primary still knows reaches a terminal status (none stays `queued`
 * or `running`); none of them ran twice; jobs submitted after the failover succeed. What the
 * window loses besides (output holes) is printed, not asserted: the README's loss window
 * (postgres-failover-live.test.ts measures it).
 */

const DB = 'vmo_ha_async_ends';
const CONCURRENCY = 8;
const TERMINAL = ['succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped'];
const LAG_MS = 1500;

const direct = (url: string) => postgresPackage(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
async function ask<T>(url: string, query: (sql: ReturnType<typeof direct>) => Promise<T>): Promise<T> {
  const sql = direct(url);
  try {
    return await query(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

describe(`asynchronous standby ${LAG_MS} ms behind, the primary crashes while local jobs run: no job stays non-terminal`, () => {
  let pair: PostgresPair;
  let system: TestSystem;
  let load: FailoverLoad;

  beforeAll(async () => {
    pair = await PostgresPair.start();
    const url = pair.url(DB);
    await migrateDatabase(url);
    system = await TestSystem.start({
      label: 'ha_pg_async_ends',
      workers: 1,
      // A short presence TTL: the sweep looks at jobs started over one TTL ago, every second.
      env: { VMO_DATABASE_URL: url, VMO_WORKER_CONCURRENCY: String(CONCURRENCY), VMO_MAINTENANCE_MS: '1000', VMO_WORKER_PRESENCE_TTL_MS: '2000' },
      skipAuditCheck: { reason: 'the database fails over mid-test: a request in flight at the fault may have its audit row logged instead of stored' },
    });
    system.databaseUrl = url;
    load = new FailoverLoad(system);
  }, 150_000);
  afterAll(async () => {
    await system?.stop();
    await pair?.stop();
    load?.cleanup();
  });

  it('every job the new primary knows ends (none left running or queued); jobs after the failover succeed', async () => {
    onTestFailed(() => console.log(system.logs(40_000)));
    const scratch = load.scratch;
    const runs = scratch.path('runs');
    const submit = async (command: string): Promise<string> => {
      const res = await system.client.request('POST', '/v1/jobs', { command, target: { type: 'local' } });
      expect(res.status).toBe(201);
      return (res.body as { id: string }).id;
    };
    // Ending in the window: they hold every slot until the flag, then print and exit at once.
    const ending = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => submit(`echo "$VMO_JOB_ID" >> '${runs}'; while [ ! -e '${scratch.path('go')}' ]; do sleep 0.05; done; echo ending-${i}`)));
    await waitFor('every slot held', async () => {
      const res = await system.client.request('GET', `/v1/jobs?status=running&limit=${CONCURRENCY}`);
      return (res.body as { items: unknown[] }).items.length === CONCURRENCY || undefined;
    }, 60_000, 50);
    // Starting in the window, ending well after the promotion.
    const starting = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => submit(`echo "$VMO_JOB_ID" >> '${runs}'; echo starting-${i}; sleep 8; echo starting-${i} done`)));
    await pair.crashPrimaryWithLag(LAG_MS, () => scratch.raise('go'));
    await new Promise((r) => setTimeout(r, 1000)); // the HA manager noticing
    await ask(pair.urlOf('standby'), (sql) => sql`select pg_promote(true, 60)`);
    // The system takes jobs again (a submission met by the failover is refused, and tried again).
    await waitFor('4 jobs acknowledged after the failover', async () => {
      await load.submit(1, 'after');
      return load.acknowledged.length >= 4 || undefined;
    }, 60_000, 200);

    const sql = postgresPackage(pair.url(DB), { max: 2, onnotice: () => {} });
    try {
      const ids = [...ending, ...starting, ...load.acknowledged.map((j) => j.id)];
      let rows: { id: string; status: string; worker_id: string | null; error_code: string | null }[] = [];
      const settled = await waitFor('every surviving job to reach a terminal status', async () => {
        rows = await sql<typeof rows>`select id, status, worker_id, error_code from jobs where id in ${sql(ids)}`;
        return rows.every((r) => TERMINAL.includes(r.status)) || undefined;
      }, 90_000, 250).catch(() => false);
      const stuck = rows.filter((r) => !TERMINAL.includes(r.status));
      expect(stuck.map((r) => `${r.id} ${r.status}`), 'jobs left non-terminal after the failover').toEqual([]);
      expect(settled).toBe(true);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const j of load.acknowledged) expect(byId.get(j.id)?.status, `after job ${j.n}`).toBe('succeeded');
      const starts = new Map<string, number>();
      for (const id of scratch.lines('runs')) starts.set(id, (starts.get(id) ?? 0) + 1);
      const twice = [...starts].filter(([, n]) => n > 1).map(([id]) => id);
      expect(twice, 'jobs whose command ran twice').toEqual([]);
      const logs = system.logs(400_000);
      const rewritten = (logs.match(/end was lost; written again/g) ?? []).length;
      const restarted = (logs.match(/the start of a job that ran here was lost/g) ?? []).length;
      const status = (list: string[]) => list.map((id) => byId.get(id)?.status ?? 'gone').join(',');
      console.log(
        `[ha postgres async ends] standby ${LAG_MS} ms behind, primary crashed: ${CONCURRENCY} local jobs ending in the window: ${status(ending)}; ${CONCURRENCY} starting in it: ${status(starting)}; ` +
          `the worker wrote ${rewritten} lost end(s) again and recorded ${restarted} lost start(s) again; 0 left running or queued, 0 ran twice; the 4 after the failover succeeded`,
      );
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 300_000);
});
