import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import postgresPackage from 'postgres';
import { PostgresPair, TestSystem, waitFor } from '@vmo/testkit';
import { migrateDatabase } from '@vmo/shared/db';
import { expectedOutput, FailoverLoad } from './failover-load.ts';

/**
 * Issue 19, Postgres under a live system: an API, a worker and an agent (real processes) on a
 * primary and a standby of the test's own (testkit postgres-ha.ts), every process given both hosts
 * (`VMO_DATABASE_URL` multi-host, `target_session_attrs=read-write`). While jobs stream output on
 * the worker and on the agent:
 * - synchronous standby, the primary killed -9 and the standby promoted: every job acknowledged
 *   before, during and after ends `succeeded` once with byte-identical output;
 * - synchronous standby, the primary demoted and LEFT RUNNING read-only (SQLSTATE 25006 to any
 *   write) and the standby promoted: the same counts; pooled connections that land on the old
 *   primary are discarded, not reused;
 * - asynchronous standby, the primary killed -9: what is lost is MEASURED and printed (README,
 *   "The loss window"), not asserted zero; a job submitted after the failover still runs.
 * Times and losses are printed for the README.
 */

const ENV = { VMO_WORKER_CONCURRENCY: '8', VMO_MAINTENANCE_MS: '1000' };
const DB = 'vmo_ha_live';

const direct = (url: string) => postgresPackage(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
async function ask<T>(url: string, query: (sql: ReturnType<typeof direct>) => Promise<T>): Promise<T> {
  const sql = direct(url);
  try {
    return await query(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A live system on `pair`: one API, one worker, one agent; jobs on the worker and on the agent. */
async function liveSystem(pair: PostgresPair, label: string) {
  const url = pair.url(DB);
  await migrateDatabase(url);
  const system = await TestSystem.start({
    label,
    workers: 1,
    env: { ...ENV, VMO_DATABASE_URL: url },
    skipAuditCheck: { reason: 'the database fails over mid-test: a request in flight at the fault may have its audit row logged instead of stored' },
  });
  // The test reads the same hosts the processes use (the system's own database on 5432 stays empty).
  system.databaseUrl = url;
  try {
    await system.startAgent('ha-pg-agent');
  } catch (err) {
    await system.stop(); // the caller never gets it: its afterAll could not stop these processes
    throw err;
  }
  const local = new FailoverLoad(system);
  const agent = new FailoverLoad(system, { type: 'agent', agent: 'ha-pg-agent' });
  return { system, local, agent, submit: (n: number, phase: 'before' | 'during' | 'after') => Promise.all([local.submit(n, phase), agent.submit(n, phase)]) };
}
type Live = Awaited<ReturnType<typeof liveSystem>>;

/**
 * The fault: `fault()` runs while jobs stream; submissions go on every 100 ms through it and for
 * a second after `recover()` (what an HA manager does: here `pg_promote()` on the standby).
 */
async function underFault(live: Live, fault: () => Promise<void>, recover: () => Promise<void>): Promise<{ faultToAckMs: number }> {
  await live.submit(15, 'before');
  await live.local.waitForSomeRunning();
  let submitting = true;
  const during = (async () => {
    while (submitting) {
      await live.submit(1, 'during');
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const faultAt = Date.now();
  const acksAtFault = live.local.acknowledged.length + live.agent.acknowledged.length;
  await fault();
  await new Promise((r) => setTimeout(r, 1000)); // the HA manager noticing
  await recover();
  const firstAck = waitFor('a submission acknowledged after the recovery', () => live.local.acknowledged.length + live.agent.acknowledged.length > acksAtFault + 2 || undefined, 60_000, 20);
  await firstAck;
  const faultToAckMs = Date.now() - faultAt;
  await new Promise((r) => setTimeout(r, 1000));
  submitting = false;
  await during;
  await live.submit(4, 'after');
  return { faultToAckMs };
}

const promote = (pair: PostgresPair) => ask(pair.urlOf('standby'), (sql) => sql`select pg_promote(true, 60)`).then(() => undefined);

describe('synchronous standby: the primary killed -9 while jobs stream output', () => {
  let pair: PostgresPair;
  let live: Live;
  beforeAll(async () => {
    pair = await PostgresPair.start({ synchronous: true });
    live = await liveSystem(pair, 'ha_pg_sync_kill');
  }, 150_000);
  afterAll(async () => {
    await live?.system.stop();
    await pair?.stop();
    live?.local.cleanup();
    live?.agent.cleanup();
  });

  it('every job acknowledged before, during and after ends once with its exact output', async () => {
    onTestFailed(() => console.log(live.system.logs()));
    const { faultToAckMs } = await underFault(live, async () => pair.killPrimary(), () => promote(pair));
    const a = await live.local.expectEveryJobOnce();
    const b = await live.agent.expectEveryJobOnce();
    const acked = live.local.acknowledged.length + live.agent.acknowledged.length;
    expect(a.succeeded + b.succeeded).toBe(acked);
    expect(live.local.acknowledged.filter((j) => j.phase === 'after')).toHaveLength(4);
    const during = [...live.local.acknowledged, ...live.agent.acknowledged].filter((j) => j.phase === 'during').length;
    console.log(`[ha postgres live] synchronous, primary killed -9: ${acked} jobs acknowledged (${during} during the failover, ${live.local.refused + live.agent.refused} refused), all ended once with byte-identical output, 0 lost; first acknowledged submission ${faultToAckMs} ms after the kill (1 s of it the simulated HA manager)`);
  }, 240_000);
});

describe('synchronous standby: the primary demoted and left running read-only', () => {
  let pair: PostgresPair;
  let live: Live;
  beforeAll(async () => {
    pair = await PostgresPair.start({ synchronous: true });
    live = await liveSystem(pair, 'ha_pg_demoted');
  }, 150_000);
  afterAll(async () => {
    await live?.system.stop();
    await pair?.stop();
    live?.local.cleanup();
    live?.agent.cleanup();
  });

  it('writes move to the promoted standby; every job ends once with its exact output; the old primary keeps no write of ours', async () => {
    onTestFailed(() => console.log(live.system.logs()));
    const demote = async () => {
      // Every write there now fails 25006 (as on a fenced or demoted primary that stays reachable).
      await ask(pair.urlOf('primary'), async (sql) => {
        await sql`alter system set default_transaction_read_only = on`;
        await sql`alter system set synchronous_standby_names = ''`;
        await sql`select pg_reload_conf()`;
      });
    };
    const { faultToAckMs } = await underFault(live, demote, () => promote(pair));
    const a = await live.local.expectEveryJobOnce();
    const b = await live.agent.expectEveryJobOnce();
    const acked = live.local.acknowledged.length + live.agent.acknowledged.length;
    expect(a.succeeded + b.succeeded).toBe(acked);
    // The old primary is still up and read-only, and has none of the jobs submitted after the fault.
    const old = await ask(pair.urlOf('primary', DB), async (sql) => ({
      readOnly: (await sql<{ default_transaction_read_only: string }[]>`show default_transaction_read_only`)[0]!.default_transaction_read_only,
      after: (await sql<{ n: number }[]>`select count(*)::int as n from jobs where id in ${sql(live.local.acknowledged.filter((j) => j.phase === 'after').map((j) => j.id))}`)[0]!.n,
    }));
    expect(old).toEqual({ readOnly: 'on', after: 0 });
    // Connections our processes still hold there (reads only: every write there is refused).
    // None left: each that met 25006 there was closed, none kept reading stale rows.
    const lingering = await waitFor('no connection of ours left on the old primary', async () => {
      const [row] = await ask(pair.urlOf('primary'), (sql) => sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${DB}`);
      return row!.n === 0 ? [row!] : undefined;
    }, 30_000, 200);
    console.log(`[ha postgres live] synchronous, primary demoted and left running read-only: ${acked} jobs acknowledged (${live.local.refused + live.agent.refused} refused), all ended once with byte-identical output; first acknowledged submission ${faultToAckMs} ms after the demotion; ${lingering[0]!.n} connections of ours left on the old primary`);
  }, 240_000);
});


describe.each([0, 500])('asynchronous standby %i ms behind: the primary crashes (every process killed -9) while jobs stream output (the loss measured)', (lagMs) => {
  let pair: PostgresPair;
  let live: Live;
  beforeAll(async () => {
    pair = await PostgresPair.start();
    live = await liveSystem(pair, `ha_pg_async_${lagMs}`);
  }, 150_000);
  afterAll(async () => {
    await live?.system.stop();
    await pair?.stop();
    live?.local.cleanup();
    live?.agent.cleanup();
  });

  it('measures what acknowledged jobs and output are lost; a job submitted after the failover runs', async () => {
    onTestFailed(() => console.log(live.system.logs()));
    const { faultToAckMs } = await underFault(live, () => pair.crashPrimaryWithLag(lagMs), () => promote(pair));
    const all = [...live.local.acknowledged, ...live.agent.acknowledged];
    const starts = [...live.local.scratch.lines('runs'), ...live.agent.scratch.lines('runs')];
    const sql = postgresPackage(pair.url(DB), { max: 2, onnotice: () => {} });
    try {
      const ids = all.map((j) => j.id);
      // Settled: every row still there has ended (or nothing moved for 30 s: counted as stuck).
      let last = '';
      let stableSince = Date.now();
      const rows = await waitFor('the surviving jobs to settle', async () => {
        const found = await sql<{ id: string; status: string }[]>`select id, status from jobs where id in ${sql(ids)}`;
        const key = found.map((r) => r.status).sort().join();
        if (key !== last) [last, stableSince] = [key, Date.now()];
        const ended = found.every((r) => ['succeeded', 'failed', 'canceled', 'timed_out', 'lost'].includes(r.status));
        return ended || Date.now() - stableSince > 30_000 ? found : undefined;
      }, 180_000, 250);
      const byId = new Map(rows.map((r) => [r.id, r.status]));
      const chunks = await sql<{ job_id: string; data: Buffer }[]>`select job_id, data from job_output where job_id in ${sql(ids)} and stream = 1 order by job_id, seq`;
      const stdout = new Map<string, Buffer[]>();
      for (const c of chunks) stdout.set(c.job_id, [...(stdout.get(c.job_id) ?? []), c.data]);
      const startsOf = new Map<string, number>();
      for (const id of starts) startsOf.set(id, (startsOf.get(id) ?? 0) + 1);
      const missing = all.filter((j) => !byId.has(j.id));
      const notSucceeded = all.filter((j) => byId.has(j.id) && byId.get(j.id) !== 'succeeded');
      const wrongOutput = all.filter((j) => byId.has(j.id) && Buffer.concat(stdout.get(j.id) ?? []).toString('latin1') !== expectedOutput(j.n));
      const bytesLost = wrongOutput.reduce((n, j) => n + Math.max(0, expectedOutput(j.n).length - Buffer.concat(stdout.get(j.id) ?? []).length), 0);
      const where = (j: { id: string }) => (live.agent.acknowledged.includes(j as never) ? 'agent' : 'local');
      const outputOf = (j: { id: string; n: number }) => `${where(j)} ${Buffer.concat(stdout.get(j.id) ?? []).length}/${expectedOutput(j.n).length} bytes in ${stdout.get(j.id)?.length ?? 0} chunks`;
      const startedTwice = all.filter((j) => (startsOf.get(j.id) ?? 0) > 1);
      // What the test holds even without synchronous replication: a job after the failover runs.
      for (const j of all.filter((x) => x.phase === 'after')) expect(byId.get(j.id), `after job ${j.n}`).toBe('succeeded');
      console.log(
        `[ha postgres live] ASYNCHRONOUS, standby ${lagMs} ms behind, primary crashed: ${all.length} jobs acknowledged (${live.local.refused + live.agent.refused} refused); lost: ${missing.length} jobs gone (${missing.map((j) => j.phase).join(',') || '-'}), ` +
          `${notSucceeded.length} not succeeded (${notSucceeded.map((j) => `${where(j)} ${j.phase} ${byId.get(j.id)}`).join(',') || '-'}), ${wrongOutput.length} with output not byte-identical (${bytesLost} bytes short: ${wrongOutput.map(outputOf).join('; ') || '-'}), ${startedTwice.length} started twice; ` +
          `first acknowledged submission ${faultToAckMs} ms after the kill`,
      );
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 300_000);
});
