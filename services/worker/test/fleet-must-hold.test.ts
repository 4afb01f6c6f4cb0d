import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { isTerminal, JOB_STATUSES, type JobStatus } from '@vmo/shared/domain';
import { RedisServer, registerSimAgents, SimAgents, TestSystem, waitFor, type SimAgentIdentity } from '@vmo/testkit';

/**
 * Issue 10, "Must hold", on the real system (two API and two worker processes, real Postgres, a
 * Redis of the test's own so it can be restarted) with simulated agents speaking the real
 * protocol (packages/testkit/src/sim-agents.ts), one WebSocket each:
 *
 * - a run over 1,000 targets completes: every child terminal, counts that add up, no child
 *   started twice (attempt 1 in Postgres, one start and one `run` frame per job at the agents);
 * - the run converges when a process is killed -9 mid-run (an API node, a worker, an agent) and
 *   after Redis restarts empty, with maxConcurrency never exceeded, judged from the children's
 *   started_at/finished_at in Postgres.
 *
 * Timings are deadlines, never assertions.
 */
const FLEET = 1000;
const FAULT_TARGETS = 100;
const FAULT_CONCURRENCY = 10;
const FINAL = new Set(['succeeded', 'failed', 'canceled']);

interface ChildRow {
  id: string;
  status: JobStatus;
  attempt: number;
  runIndex: number;
  targetName: string;
  /** µs since the epoch, from Postgres (no rounding to ms: a release follows its predecessor's end by less). */
  startedUs: number | null;
  finishedUs: number | null;
  errorCode: string | null;
}

interface RunBody {
  id: string;
  status: string;
  total: number;
  counts: Record<JobStatus, number>;
  progress: { done: number; total: number };
}

describe('fleet runs: must hold', () => {
  let redis: RedisServer;
  let system: TestSystem;
  let sim: SimAgents;
  let agents: SimAgentIdentity[];
  let sql: ReturnType<typeof postgres>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    system = await TestSystem.start({
      label: 'fleet_must_hold',
      apis: 2,
      workers: 2,
      env: {
        VMO_REDIS_URL: redis.url,
        // 1,000 agents beating every 500 ms (the test kit's default) would be most of the machine.
        VMO_HEARTBEAT_MS: '3000',
        VMO_AGENT_GRACE_MS: '60000',
        // A killed worker's jobs are taken over quickly (the fault tests' settings).
        VMO_WORKER_PRESENCE_TTL_MS: '1500',
        VMO_MAINTENANCE_MS: '500',
        VMO_WORKER_LOCK_MS: '4000',
      },
    });
    agents = await registerSimAgents(system.databaseUrl, FLEET, { prefix: 'fleet', labels: (i) => ({ fleet: 'must-hold', group: i < FAULT_TARGETS ? 'faults' : 'rest' }) });
    // Asked again at every dial: an API started after a kill joins the list.
    sim = new SimAgents({ servers: () => system.apiUrls, agents });
    await sim.start(120_000);
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  }, 180_000);
  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await sim?.stop();
    await system?.stop();
    await redis?.stop();
  });

  const submitRun = async (body: Record<string, unknown>): Promise<RunBody> => {
    const res = await system.client.request('POST', '/v1/runs', body);
    expect(res.status, res.text).toBe(201);
    return res.body as RunBody;
  };

  const waitRunFinal = (id: string, timeoutMs: number): Promise<RunBody> =>
    waitFor(`run ${id} final`, async () => {
      const res = await system.client.request('GET', `/v1/runs/${id}`);
      return res.status === 200 && FINAL.has(res.body.status) ? (res.body as RunBody) : undefined;
    }, timeoutMs, 100);

  const children = async (runId: string): Promise<ChildRow[]> => {
    const rows = await sql<{ id: string; status: JobStatus; attempt: number; run_index: number; target_name: string; s: string | null; f: string | null; error_code: string | null }[]>`
      select id, status, attempt, run_index, target_name, error_code,
        (extract(epoch from started_at) * 1000000)::bigint as s, (extract(epoch from finished_at) * 1000000)::bigint as f
      from jobs where run_id = ${runId} order by run_index`;
    return rows.map((r) => ({ id: r.id, status: r.status, attempt: r.attempt, runIndex: r.run_index, targetName: r.target_name, startedUs: r.s === null ? null : Number(r.s), finishedUs: r.f === null ? null : Number(r.f), errorCode: r.error_code }));
  };

  const doneCount = async (runId: string): Promise<number> => {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from jobs where run_id = ${runId} and status = any(${JOB_STATUSES.filter(isTerminal)})`;
    return row!.n;
  };

  /** Most children running at once: [started_at, finished_at] intervals, an end before a start at the same instant. */
  const maxOverlap = (rows: ChildRow[]): number => {
    const events: [number, number][] = [];
    for (const r of rows) {
      if (r.startedUs === null) continue;
      events.push([r.startedUs, +1], [r.finishedUs ?? Number.MAX_SAFE_INTEGER, -1]);
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (running += d));
    return peak;
  };

  /**
   * What a user relies on once the run is final: every child terminal and counted once, the run's
   * counts and progress add up to its total, no child started twice (attempt at most 1 in
   * Postgres; at most one start at the agents), and at most `maxConcurrency` ran at once.
   */
  const expectConverged = async (runId: string, total: number, maxConcurrency: number, timeoutMs: number) => {
    const run = await waitRunFinal(runId, timeoutMs);
    const rows = await children(runId);
    expect(rows).toHaveLength(total);
    expect(rows.filter((r) => !isTerminal(r.status))).toEqual([]);
    expect(run.total).toBe(total);
    expect(run.progress).toEqual({ done: total, total });
    expect(Object.values(run.counts).reduce((a, b) => a + b, 0)).toBe(total);
    for (const s of JOB_STATUSES) expect(run.counts[s], `counts.${s}`).toBe(rows.filter((r) => r.status === s).length);
    expect(new Set(rows.map((r) => r.targetName)).size).toBe(total);
    // Never started twice: the start bumps the attempt, and the agents started each job at most once.
    expect(rows.filter((r) => r.attempt > 1)).toEqual([]);
    for (const r of rows) if (r.startedUs !== null) expect(r.attempt, r.id).toBe(1);
    expect(rows.map((r) => sim.jobRecord(r.id)).filter((rec) => rec !== undefined && rec.starts > 1)).toEqual([]);
    const overlap = maxOverlap(rows);
    if (overlap > maxConcurrency) {
      const released = await sql<{ id: string; r: string }[]>`select id, (extract(epoch from released_at) * 1000000)::bigint as r from jobs where run_id = ${runId}`;
      const rel = new Map(released.map((x) => [x.id, Number(x.r)]));
      const t0 = Math.min(...rows.map((r) => rel.get(r.id) ?? Infinity));
      const ms = (us: number | null | undefined) => (us == null ? '-' : ((us - t0) / 1000).toFixed(1));
      console.log(`run ${runId} strategy ${JSON.stringify((await sql`select strategy from runs where id = ${runId}`)[0]?.strategy)}`);
      console.log([...rows].sort((a, b) => (a.startedUs ?? 0) - (b.startedUs ?? 0)).map((r) => `${r.runIndex} ${r.status} released ${ms(rel.get(r.id))} started ${ms(r.startedUs)} finished ${ms(r.finishedUs)}`).join('\n'));
    }
    expect(overlap).toBeLessThanOrEqual(maxConcurrency);
    expect(sim.protocolErrors).toEqual([]);
    return { run, rows };
  };

  /** 100 targets, 10 at a time, each child a short sleep: the fault lands while children run and wait. */
  const faultRun = () =>
    submitRun({ command: 'sleep 0.2', targets: { selector: 'fleet=must-hold,group=faults' }, strategy: { maxConcurrency: FAULT_CONCURRENCY } });

  const midRun = async (runId: string) => {
    await waitFor('the run a quarter done', async () => (await doneCount(runId)) >= FAULT_TARGETS / 4, 60_000, 25);
    expect(await doneCount(runId)).toBeLessThan(FAULT_TARGETS);
  };

  it(`a run over ${FLEET} simulated agents completes: every child terminal, counts add up, none started twice`, async () => {
    onTestFailed(() => console.log(system.logs(4000)));
    const submitted = await submitRun({ command: 'true', targets: { selector: 'fleet=must-hold' } });
    expect(submitted.total).toBe(FLEET);
    const { run, rows } = await expectConverged(submitted.id, FLEET, FLEET, 150_000);
    expect(run.status).toBe('succeeded');
    expect(run.counts.succeeded).toBe(FLEET);
    expect(new Set(rows.map((r) => r.targetName))).toEqual(new Set(agents.map((a) => a.name)));
    // At the agents: each child arrived in one `run` frame, was started once and its exit acknowledged.
    const recs = rows.map((r) => sim.jobRecord(r.id));
    expect(recs.filter((rec) => rec === undefined)).toEqual([]);
    expect(recs.filter((rec) => rec!.runs !== 1 || rec!.starts !== 1 || rec!.runsAfterEnd !== 0 || !rec!.exitAcked || rec!.attempts.join() !== '1')).toEqual([]);
    // Each child ran on its own target.
    expect(new Set(recs.map((rec) => rec!.agent)).size).toBe(FLEET);
  }, 200_000);

  it('converges when an API node is killed -9 mid-run; maxConcurrency is never exceeded', async () => {
    onTestFailed(() => console.log(system.logs(4000)));
    const submitted = await faultRun();
    await midRun(submitted.id);
    // apis[1]: half the agents are connected to it; the test's client talks to apis[0].
    const cutBefore = sim.closeCodes[1006] ?? 0;
    await system.apis[1]!.kill();
    await waitFor('its agents cut off', () => (sim.closeCodes[1006] ?? 0) - cutBefore >= FLEET / 4, 30_000);
    const { run } = await expectConverged(submitted.id, FAULT_TARGETS, FAULT_CONCURRENCY, 120_000);
    // Its agents came back on the other node with their jobs: nothing was lost.
    expect(run).toMatchObject({ status: 'succeeded', counts: { succeeded: FAULT_TARGETS } });
    await system.startApi();
    await sim.waitOnline(60_000);
  }, 180_000);

  it('converges when a worker is killed -9 mid-run; maxConcurrency is never exceeded', async () => {
    onTestFailed(() => console.log(system.logs(4000)));
    const submitted = await faultRun();
    await midRun(submitted.id);
    await system.workers[0]!.kill();
    const { run } = await expectConverged(submitted.id, FAULT_TARGETS, FAULT_CONCURRENCY, 120_000);
    // Its agent jobs were re-attached by the other worker (same attempt), not re-run.
    expect(run).toMatchObject({ status: 'succeeded', counts: { succeeded: FAULT_TARGETS } });
    await system.startWorker();
  }, 180_000);

  it('converges when an agent is killed -9 mid-run: its child ends lost, the others finish; maxConcurrency is never exceeded', async () => {
    onTestFailed(() => console.log(system.logs(4000)));
    const submitted = await submitRun({ command: 'sleep 0.4', targets: { selector: 'fleet=must-hold,group=faults' }, strategy: { maxConcurrency: FAULT_CONCURRENCY } });
    await midRun(submitted.id);
    // A child its agent has confirmed (accepted_at) and is still running: its agent crashes and
    // restarts without it (§6: the server ends it lost when the agent comes back).
    const victim = await waitFor('a confirmed child still running at its agent', async () => {
      const running = await sql<{ id: string; target_name: string }[]>`
        select id, target_name from jobs where run_id = ${submitted.id} and status = 'running' and accepted_at is not null`;
      return running.find((r) => sim.jobRecord(r.id)?.exit === undefined);
    }, 30_000, 10);
    sim.crash(victim.target_name, 300);
    const { run, rows } = await expectConverged(submitted.id, FAULT_TARGETS, FAULT_CONCURRENCY, 120_000);
    expect(rows.find((r) => r.id === victim.id)).toMatchObject({ status: 'lost', attempt: 1 });
    expect(run).toMatchObject({ status: 'failed', counts: { lost: 1, succeeded: FAULT_TARGETS - 1 } });
    await sim.waitOnline(60_000);
  }, 180_000);

  it('converges after Redis restarts empty mid-run (queue, presence and locks gone); maxConcurrency is never exceeded', async () => {
    onTestFailed(() => console.log(system.logs(4000)));
    const submitted = await faultRun();
    await midRun(submitted.id);
    await redis.kill();
    await redis.launch();
    const { run } = await expectConverged(submitted.id, FAULT_TARGETS, FAULT_CONCURRENCY, 150_000);
    // Postgres had every child: the running ones finished, the held and queued ones ran once.
    expect(run).toMatchObject({ status: 'succeeded', counts: { succeeded: FAULT_TARGETS } });
  }, 200_000);
});
