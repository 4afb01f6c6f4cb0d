import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { TestSystem, waitFor, type ServiceProcess } from '@vmo/testkit';
import { openSql, Scratch } from '../faults/fault-kit.ts';

/**
 * Issue 19's intake watchdog (services/worker/src/watchdog/intake-watchdog.ts) must restart a
 * worker that takes nothing while jobs wait and it has a free slot, and NOTHING else: a worker it
 * kills by mistake takes every local job it runs down with it (they end `lost`). Its unit tests
 * judge samples; this one runs the real worker (real Redis, Postgres, BullMQ) with a small
 * VMO_WORKER_STUCK_MS through the two states that look like a stall and are not:
 *
 * (a) idle: an empty queue for several times the limit;
 * (b) busy: every slot held by a long job for several times the limit while more jobs wait.
 *
 * The one worker of the system (no other can hide a restart) keeps its pid throughout, prints no
 * "worker stuck" line, and runs the waiting jobs once the long ones end.
 */

const STUCK_MS = 3000;
const CONCURRENCY = 2;
/** How long each state is held: well past the limit, so a wrong verdict has every chance to come. */
const HOLD_MS = 3 * STUCK_MS;

describe('the intake watchdog leaves an idle worker and a busy one alone', () => {
  let system: TestSystem;
  let worker: ServiceProcess;
  let sql: ReturnType<typeof openSql>;
  const scratch = new Scratch();

  beforeAll(async () => {
    system = await TestSystem.start({
      label: 'ha_intake_idle_busy',
      workers: 0,
      env: { VMO_WORKER_CONCURRENCY: String(CONCURRENCY), VMO_MAINTENANCE_MS: '1000', VMO_WORKER_STUCK_MS: String(STUCK_MS) },
    });
    worker = await system.startWorker();
    sql = openSql(system.databaseUrl);
  }, 120_000);
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
    scratch.cleanup();
  });

  const submit = async (command: string): Promise<string> => {
    const res = await system.client.request('POST', '/v1/jobs', { command, target: { type: 'local' } });
    expect(res.status).toBe(201);
    return (res.body as { id: string }).id;
  };
  const statuses = async (ids: string[]) => {
    const rows = await sql<{ id: string; status: string; worker_id: string | null; started_at: Date | null; finished_at: Date | null }[]>`
      select id, status, worker_id, started_at, finished_at from jobs where id in ${sql(ids)}`;
    return new Map(rows.map((r) => [r.id, r]));
  };
  /** Holds for `ms`, checking every 200 ms that the worker lives and that `holds()` stays true. */
  const holdFor = async (what: string, ms: number, holds: () => Promise<boolean>) => {
    const from = Date.now();
    let broken = 0;
    await waitFor(`${what} for ${ms} ms`, async () => {
      if (worker.child.exitCode !== null) return true; // judged below, at once
      if (!(await holds())) broken++;
      return Date.now() - from >= ms || undefined;
    }, ms + 30_000, 200);
    expect(worker.child.exitCode, `the worker exited during ${what}`).toBeNull();
    expect(broken, `samples where ${what} did not hold`).toBe(0);
  };
  const ranHere = (workerId: string | null | undefined) => workerId?.split(':')[1] === String(worker.pid);

  it('(a) an empty queue for 3 × VMO_WORKER_STUCK_MS: the same process then takes a job at once', async () => {
    onTestFailed(() => console.log(system.logs()));
    const pid = worker.pid;
    // The worker has been up since beforeAll; its watchdog samples every 750 ms (stuckMs / 4).
    await holdFor('an empty queue', HOLD_MS, async () => {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from jobs where status in ('queued', 'running')`;
      return row!.n === 0;
    });
    const id = await submit('echo idle-ok');
    const ended = await waitFor('the job after the idle spell to end', async () => {
      const row = (await statuses([id])).get(id);
      return row && row.status !== 'queued' && row.status !== 'running' ? row : undefined;
    }, 60_000, 100);
    expect(ended.status).toBe('succeeded');
    expect(ranHere(ended.worker_id), `ran on ${ended.worker_id}, the worker's pid is ${pid}`).toBe(true);
    expect(worker.pid).toBe(pid);
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output).not.toMatch(/worker stuck/);
  }, 120_000);

  it('(b) every slot busy on a long job for 3 × VMO_WORKER_STUCK_MS with jobs waiting: not stuck; the waiting jobs run after the long ones end, in the same process', async () => {
    onTestFailed(() => console.log(system.logs()));
    const pid = worker.pid;
    const release = scratch.path('release');
    const long = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => submit(`while [ ! -e '${release}' ]; do sleep 0.1; done; echo long-${i}`)));
    await waitFor('every slot busy on a long job', async () => [...(await statuses(long)).values()].filter((r) => r.status === 'running').length === CONCURRENCY || undefined, 60_000, 100);
    const waiting = await Promise.all(Array.from({ length: 3 }, (_, i) => submit(`echo waited-${i}`)));
    // The whole spell: both slots held, the three jobs queued (the state the watchdog samples:
    // jobs waiting, no slot free).
    await holdFor('both slots busy with jobs waiting', HOLD_MS, async () => {
      const now = await statuses([...long, ...waiting]);
      return long.every((id) => now.get(id)?.status === 'running') && waiting.every((id) => now.get(id)?.status === 'queued');
    });
    scratch.raise('release');
    const ids = [...long, ...waiting];
    const rows = await waitFor('every job to end', async () => {
      const now = await statuses(ids);
      return ids.every((id) => !['queued', 'running'].includes(now.get(id)?.status ?? 'queued')) ? now : undefined;
    }, 60_000, 100);
    for (const id of ids) expect(rows.get(id)!.status, `job ${id}`).toBe('succeeded');
    for (const id of ids) expect(ranHere(rows.get(id)!.worker_id), `job ${id} ran on ${rows.get(id)!.worker_id}, the worker's pid is ${pid}`).toBe(true);
    // A waiting job started only once a long one had ended and given its slot back.
    const firstLongEnd = Math.min(...long.map((id) => rows.get(id)!.finished_at!.getTime()));
    for (const id of waiting) expect(rows.get(id)!.started_at!.getTime()).toBeGreaterThanOrEqual(firstLongEnd);
    expect(worker.pid).toBe(pid);
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output).not.toMatch(/worker stuck/);
    console.log(`[ha intake] VMO_WORKER_STUCK_MS ${STUCK_MS}: idle ${HOLD_MS} ms and busy ${HOLD_MS} ms with 3 jobs waiting, worker pid ${pid} never restarted; the 3 ran after the long jobs`);
  }, 120_000);
});
