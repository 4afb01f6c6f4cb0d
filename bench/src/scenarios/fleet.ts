import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { isTerminal, JOB_STATUSES } from '@vmo/shared/domain';
import { registerSimAgents } from '@vmo/testkit';
import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { readMemory } from '../rss-sampler.ts';
import { atMostRatio, makeRow, reportOnly, type Scenario } from '../scenario.ts';

const SUBMITTERS = 64;
const TERMINAL = JOB_STATUSES.filter(isTerminal);
const RUN_FINAL = ['succeeded', 'failed', 'canceled'];

type Sql = ReturnType<typeof postgres>;

interface Phase {
  /** From the first POST until every job has left `queued`. */
  dispatchedMs: number;
  /** From the first POST until every job is terminal. */
  doneMs: number;
  statuses: Record<string, number>;
  /** Highest VmRSS sampled during the phase, MiB (the sampler's peaks use VmHWM, a lifetime peak). */
  rssMiB: Record<string, number>;
}

/**
 * One run of `true` over N simulated agents (maxConcurrency 100 %) against the same N jobs
 * submitted one by one through POST /v1/jobs by 64 clients, on the same control plane and the
 * same agents: first POST → last job terminal, and first POST → every job dispatched (left
 * `queued`), polled in Postgres every 25 ms. The agents are the test kit's SimAgents (the real
 * protocol, `true` answered at once, no process spawned) in a load process of their own,
 * registered in bulk in Postgres. A small run and a few single jobs warm both paths up first;
 * the run is measured before the baseline (its RSS peak is clean, the baseline's includes
 * what the run left in the heap).
 */
export const fleetScenario: Scenario = {
  name: 'fleet',
  async run(ctx) {
    const n = ctx.quick ? 100 : 1000;
    const warm = Math.max(10, Math.floor(n / 20));
    const deadlineMs = ctx.quick ? 60_000 : 300_000;
    const phaseMs = ctx.quick ? 30_000 : 120_000;

    const bs = await startBenchSystem(ctx, 'fleet', {});
    let sim: LoadProcess | undefined;
    const sql = postgres(bs.system.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const { system } = bs;
      const agents = await registerSimAgents(system.databaseUrl, n, { prefix: 'fleet', labels: (i) => ({ bench: 'fleet', warm: i < warm ? 'yes' : 'no' }) });
      const agentsFile = join(ctx.tmpDir, `fleet-agents-${Date.now()}.json`);
      writeFileSync(agentsFile, JSON.stringify(agents));
      sim = new LoadProcess('load/sim-agents', { servers: system.apiUrls, agentsFile, deadlineMs }, { timeoutMs: deadlineMs + 10_000 });
      bs.sampler.track('sim-agents', sim.pid);
      const online = await sim.waitFor<{ ms: number }>('online');
      ctx.log(`  ${n} simulated agents online in ${Math.round(online.ms)} ms`);
      const pids = { api: system.apis[0]!.pid, worker: system.workers[0]!.pid };
      const api = system.apiUrls[0]!;

      // Warm-up: a small run and as many single jobs, both paths, not measured.
      const warmRun = await submitRun(api, system.token, { command: 'true', targets: { selector: 'warm=yes' }, labels: { phase: 'warmup' } });
      const warmJobs = new LoadProcess('load/fleet-submit', { url: api, token: system.token, agents: agents.slice(0, warm).map((a) => a.name), command: 'true', labels: { phase: 'warmup' }, concurrency: 8, deadlineMs: 60_000 }, { timeoutMs: 70_000 });
      await warmJobs.result();
      await watch(sql, { run: warmRun }, warm, Date.now(), phaseMs, {});
      await watch(sql, { label: 'warmup' }, warm, Date.now(), phaseMs, {});

      // The run.
      const t0 = Date.now();
      const runId = await submitRun(api, system.token, { command: 'true', targets: { selector: 'bench=fleet' }, strategy: { maxConcurrency: '100%' }, labels: { phase: 'run' } });
      const measured = await watch(sql, { run: runId }, n, t0, phaseMs, pids);
      const runStatus = await finalRunStatus(sql, runId);

      // The baseline: the same jobs, one POST each, 64 clients.
      const load = new LoadProcess(
        'load/fleet-submit',
        { url: api, token: system.token, agents: agents.map((a) => a.name), command: 'true', labels: { phase: 'baseline' }, concurrency: SUBMITTERS, deadlineMs: phaseMs + 10_000 },
        { timeoutMs: phaseMs + 20_000 },
      );
      const { startedAt } = await load.waitFor<{ startedAt: number }>('started');
      const baseline = await watch(sql, { label: 'baseline' }, n, startedAt, phaseMs, pids);
      const submitted = await load.result<{ accepted: number; errors: number; firstError?: string }>();
      if (submitted.errors > 0) throw new Error(`fleet baseline: ${submitted.errors} of ${n} POST /v1/jobs failed: ${submitted.firstError}`);

      await sim.stop();
      const seen = await sim.result<{ jobs: number; starts: number; startedTwice: number; runsAfterEnd: number; repeatedRuns: number; protocolErrors: string[] }>();
      sim = undefined;
      if (seen.startedTwice > 0 || seen.protocolErrors.length > 0) {
        throw new Error(`fleet: ${seen.startedTwice} jobs started twice by the simulated agents; protocol errors: ${seen.protocolErrors.join('; ')}`);
      }
      if (measured.statuses.succeeded !== n || baseline.statuses.succeeded !== n || runStatus !== 'succeeded') {
        throw new Error(`fleet: not every job succeeded: run ${runStatus} ${JSON.stringify(measured.statuses)}, baseline ${JSON.stringify(baseline.statuses)}`);
      }
      const usage = bs.sampler.stop();
      const notes = `${n} simulated agents (one WebSocket each, in a load process), \`true\`; run: one POST /v1/runs, maxConcurrency 100 %, ended ${runStatus}; baseline: ${n} POST /v1/jobs by ${SUBMITTERS} clients; the sim saw ${seen.jobs} jobs, ${seen.starts} starts, ${seen.startedTwice} started twice, ${seen.repeatedRuns} with a repeated run frame; run measured first`;
      return [
        makeRow({ scenario: `fleet ${n}: run, POST → last child terminal`, measured: measured.doneMs / 1000, baseline: baseline.doneMs / 1000, unit: 's', goal: atMostRatio(1), notes, usage }),
        makeRow({ scenario: `fleet ${n}: every child dispatched`, measured: measured.dispatchedMs / 1000, baseline: baseline.dispatchedMs / 1000, unit: 's', goal: reportOnly, notes: 'first POST → every job has left queued (started by a worker); baseline: the single jobs' }),
        makeRow({ scenario: `fleet ${n}: API RSS peak`, measured: measured.rssMiB.api ?? Number.NaN, baseline: baseline.rssMiB.api ?? Number.NaN, unit: 'MiB', goal: reportOnly, notes: 'highest VmRSS sampled during the run vs during the single jobs (measured after the run)' }),
        makeRow({ scenario: `fleet ${n}: worker RSS peak`, measured: measured.rssMiB.worker ?? Number.NaN, baseline: baseline.rssMiB.worker ?? Number.NaN, unit: 'MiB', goal: reportOnly, notes: 'highest VmRSS sampled during the run vs during the single jobs (measured after the run)' }),
      ];
    } finally {
      await sql.end({ timeout: 2 });
      await sim?.stop();
      await bs.stop();
    }
  },
};

async function submitRun(apiUrl: string, token: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/runs answered ${res.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { id: string }).id;
}

/** Poll the phase's jobs every 25 ms until all `n` are terminal (or `maxMs` passed: an error), sampling RSS meanwhile. */
async function watch(sql: Sql, which: { run: string } | { label: string }, n: number, t0: number, maxMs: number, pids: Record<string, number>): Promise<Phase> {
  const rssMiB: Record<string, number> = {};
  const sampleRss = () => {
    for (const [label, pid] of Object.entries(pids)) {
      const mem = readMemory(pid);
      if (mem) rssMiB[label] = Math.max(rssMiB[label] ?? 0, Math.round((mem.rssKiB / 1024) * 10) / 10);
    }
  };
  const where = 'run' in which ? sql`run_id = ${which.run}` : sql`run_id is null and labels @> ${sql.json({ phase: which.label })}`;
  let dispatchedAt: number | undefined;
  for (;;) {
    sampleRss();
    const [row] = await sql<{ left: number; done: number }[]>`
      select count(*) filter (where status <> 'queued')::int as left, count(*) filter (where status = any(${TERMINAL}))::int as done
      from jobs where ${where}`;
    const now = Date.now();
    if (dispatchedAt === undefined && row!.left >= n) dispatchedAt = now;
    if (row!.done >= n) {
      const counted = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from jobs where ${where} group by status`;
      return { dispatchedMs: (dispatchedAt ?? now) - t0, doneMs: now - t0, statuses: Object.fromEntries(counted.map((r) => [r.status, r.n])), rssMiB };
    }
    if (now - t0 > maxMs) throw new Error(`fleet: ${row!.done} of ${n} jobs terminal (${row!.left} left queued) after ${maxMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The run's status once the roll-up has seen its last child (it may trail the child by a moment). */
async function finalRunStatus(sql: Sql, runId: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [row] = await sql<{ status: string }[]>`select status from runs where id = ${runId}`;
    if (RUN_FINAL.includes(row!.status) || Date.now() > deadline) return row!.status;
    await new Promise((r) => setTimeout(r, 25));
  }
}
