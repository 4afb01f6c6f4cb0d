import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { TcpProxy, TEST_REDIS_URL, TestSystem, waitFor, type ServiceProcess } from '@vmo/testkit';
import { openSql } from '../faults/fault-kit.ts';
import { FailoverLoad } from './failover-load.ts';

/**
 * Issue 19, workers never stay wedged. Two real faults, each on the one worker of the system, so
 * no other worker can hide a wedge by taking its jobs:
 *
 * 1. Its Redis path black-holed: the worker reaches Redis through a TCP proxy that first forwards
 *    nothing at all (packets vanish, no RST), then keeps every connection open at that moment
 *    dead for good while new ones work (a lost NAT entry, a moved address). TCP alone would wait
 *    hours; the connections' deadline (redis.ts, socketTimeout) must reopen them and the worker
 *    carry on by itself, without a restart.
 * 2. Its event loop stopped (the inspector pauses the main thread: nothing of the worker's own
 *    runs, as in a synchronous loop): the watchdog thread must kill it with one line, and a
 *    restarted worker take the job submitted meanwhile.
 *
 * Counts: every acknowledged job ends once (one start recorded), with byte-identical output where
 * it succeeded. Times are printed for the README, never asserted.
 */

const TERMINAL = ['succeeded', 'failed', 'canceled', 'timed_out', 'lost'];

describe('a worker whose Redis path is black-holed reconnects by itself', () => {
  let proxy: TcpProxy;
  let system: TestSystem;
  let load: FailoverLoad;
  let worker: ServiceProcess;

  beforeAll(async () => {
    const redis = new URL(TEST_REDIS_URL);
    proxy = await TcpProxy.start(Number(redis.port || 6379), redis.hostname);
    system = await TestSystem.start({ label: 'ha_blackhole', workers: 0, env: { VMO_WORKER_CONCURRENCY: '4', VMO_MAINTENANCE_MS: '1000' } });
    worker = await system.startWorker({ VMO_REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    load = new FailoverLoad(system);
  }, 120_000);
  afterAll(async () => {
    proxy?.restore();
    await system?.stop();
    await proxy?.close();
    load?.cleanup();
  });

  it('every acknowledged job ends once with its exact output; the same worker process takes the jobs after the fault', async () => {
    onTestFailed(() => console.log(system.logs()));
    await load.submit(12, 'before');
    await load.waitForSomeRunning();
    const holedAt = Date.now();
    proxy.stall(); // nothing forwarded, nothing closed: the worker is told nothing
    await load.submit(6, 'during');
    // The path comes back for new connections only: every connection the worker has open now
    // (and those it opened during the stall) stays dead without a word.
    await waitFor('the black hole to last 5 s', () => Date.now() - holedAt >= 5_000 || undefined, 10_000, 100);
    proxy.freezeOpen();
    const healedAt = Date.now();
    proxy.restore();
    await load.submit(6, 'after');
    const { succeeded } = await load.expectEveryJobOnce(120_000);
    const doneMs = Date.now() - healedAt;
    expect(succeeded).toBe(24);
    expect(load.refused).toBe(0);
    expect(worker.child.exitCode).toBeNull(); // recovered in place: no restart needed
    expect(proxy.accepted).toBeGreaterThan(4); // it did open new connections
    console.log(`[ha blackhole] Redis path black-holed 5 s, then open connections dead for good: all ${succeeded} jobs ended once ${doneMs} ms after new connections could pass, the worker never restarted`);
  }, 180_000);
});

describe('a worker whose event loop stops is killed by its watchdog, and a restarted one takes the job', () => {
  let system: TestSystem;
  let load: FailoverLoad;
  let inspector: WebSocket | undefined;

  beforeAll(async () => {
    system = await TestSystem.start({
      label: 'ha_stuck_loop',
      workers: 0,
      env: { VMO_WORKER_CONCURRENCY: '4', VMO_MAINTENANCE_MS: '500', VMO_WORKER_PRESENCE_TTL_MS: '1500', VMO_WORKER_STUCK_MS: '5000' },
    });
    load = new FailoverLoad(system);
  }, 120_000);
  afterAll(async () => {
    inspector?.terminate();
    await system?.stop();
    load?.cleanup();
  });

  it('one line, killed; the running job ends once (lost, as a crashed worker\'s); the job submitted meanwhile runs once on the new worker', async () => {
    onTestFailed(() => console.log(system.logs()));
    const stuck = await system.startWorker({ NODE_OPTIONS: '--inspect=127.0.0.1:0' });
    const [, wsUrl] = await stuck.waitForOutput(/Debugger listening on (ws:\/\/\S+)/, 30_000);
    await load.submit(1, 'before');
    await load.waitForSomeRunning();
    const [running] = load.acknowledged;
    // Pause the main thread where it stands: its timers, sockets and jobs all stop; the
    // watchdog thread (another isolate) does not.
    inspector = new WebSocket(wsUrl!);
    let paused = false;
    inspector.on('message', (raw) => {
      if (JSON.parse(raw.toString()).method === 'Debugger.paused') paused = true;
    });
    await new Promise((resolve, reject) => inspector!.once('open', resolve).once('error', reject));
    inspector.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
    inspector.send(JSON.stringify({ id: 2, method: 'Debugger.pause' }));
    const pausedAt = Date.now();
    await waitFor('the debugger to pause the worker', () => paused || undefined, 30_000, 20);
    await load.submit(1, 'during');
    const exit = await stuck.exited;
    const killedMs = Date.now() - pausedAt;
    expect(exit.signal).toBe('SIGKILL');
    expect(stuck.output).toMatch(/worker stuck: its event loop has not run for \d+ s; killing the process \(SIGKILL\) for the supervisor to restart it/);
    // The supervisor's part: a new worker.
    await system.startWorker();
    await load.submit(1, 'after');

    const sql = openSql(system.databaseUrl);
    try {
      const ids = load.acknowledged.map((j) => j.id);
      const rows = await waitFor('every acknowledged job to end', async () => {
        const found = await sql<{ id: string; status: string; attempt: number }[]>`select id, status, attempt from jobs where id in ${sql(ids)}`;
        return found.length === ids.length && found.every((r) => TERMINAL.includes(r.status)) ? found : undefined;
      }, 120_000, 200);
      const status = new Map(rows.map((r) => [r.id, r.status]));
      // Its command ran inside the killed worker: it ends as a crashed worker's job does
      // (README, Guarantees), unless it finished before the pause took hold.
      expect(['lost', 'succeeded']).toContain(status.get(running!.id));
      for (const job of load.acknowledged.slice(1)) expect(status.get(job.id), `${job.phase} job`).toBe('succeeded');
      const starts = load.scratch.lines('runs');
      for (const job of load.acknowledged) expect(starts.filter((id) => id === job.id).length, `starts of the ${job.phase} job`).toBe(1);
      console.log(`[ha stuck loop] event loop paused: worker killed by its watchdog ${killedMs} ms later (VMO_WORKER_STUCK_MS 5000); the running job ended ${status.get(running!.id)}, the 2 others succeeded once on the new worker`);
    } finally {
      await sql.end();
    }
  }, 180_000);
});

describe('a worker whose job connection dies again and again while its other connections answer exits, and a new one takes the jobs', () => {
  let proxy: TcpProxy;
  let system: TestSystem;
  let load: FailoverLoad;

  beforeAll(async () => {
    const redis = new URL(TEST_REDIS_URL);
    proxy = await TcpProxy.start(Number(redis.port || 6379), redis.hostname);
    system = await TestSystem.start({ label: 'ha_intake', workers: 0, env: { VMO_WORKER_CONCURRENCY: '4', VMO_MAINTENANCE_MS: '1000', VMO_WORKER_STUCK_MS: '20000' } });
    load = new FailoverLoad(system);
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
    await proxy?.close();
    load?.cleanup();
  });

  it('one line, exit 70 about VMO_WORKER_STUCK_MS after the jobs began to wait; every acknowledged job ends once on the new worker', async () => {
    onTestFailed(() => console.log(system.logs()));
    const wedged = await system.startWorker({ VMO_REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    await load.submit(4, 'before');
    await load.expectEveryJobOnce(60_000); // it works until the fault
    // The connection BullMQ takes jobs on (named at connect, start-worker.ts) dies, and every
    // new one as soon as it names itself: its command and subscriber connections answer, so
    // the worker looks alive; only the watchdog sees that it takes nothing.
    proxy.freezeWhen('vmo-worker-jobs');
    const frozenAt = Date.now();
    await load.submit(6, 'during');
    const exit = await waitFor('the wedged worker to exit', () => (wedged.child.exitCode !== null ? wedged.exited : undefined), 120_000, 200);
    const exitMs = Date.now() - frozenAt;
    expect(exit.code).toBe(70);
    expect(wedged.output).toMatch(/worker stuck: \d+ job\(s\) waiting and 4 slot\(s\) free, yet no job taken for \d+ s; exiting 70 for the supervisor to restart it/);
    await system.startWorker(); // the supervisor's part (straight to Redis)
    await load.submit(2, 'after');
    const { succeeded } = await load.expectEveryJobOnce(120_000);
    expect(succeeded).toBe(12);
    console.log(`[ha intake] job connection dead again and again, the others answering: the worker exited 70 ${exitMs} ms after (VMO_WORKER_STUCK_MS 20000); all ${succeeded} jobs ended once, the 8 after the fault on the new worker`);
  }, 240_000);
});
