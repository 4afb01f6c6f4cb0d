import postgres from 'postgres';
import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { createTestPrefix, TEST_REDIS_URL } from '@vmo/testkit';
import { NamedCpu, ProcessSampler, readMachineCpu, type ProcessUsage } from '../rss-sampler.ts';
import { atLeastRatio, makeRow, type Scenario, type ScenarioContext } from '../scenario.ts';

const SUBMITTERS = 64;
/** The worker's default VMO_WORKER_CONCURRENCY; the bare worker runs at the same. */
const CONCURRENCY = 32;

export interface ThroughputRun {
  perSecond: number;
  ms: number;
  /** Jobs terminal when the run ended (fewer than asked when the time bound cut it). */
  ended: number;
  statuses: Record<string, number>;
  usage: Record<string, ProcessUsage>;
  redisCpu: number;
  postgresCpu: number;
  machineBusyPct: number;
}

/**
 * `n` jobs running `true` on one real agent: from the first POST (64 concurrent submitters,
 * spread over the API nodes) until every job is terminal in Postgres, polled every 25 ms.
 */
export async function runAgentThroughput(ctx: ScenarioContext, label: string, opts: { n: number; apis: number; workers: number; maxMs: number }): Promise<ThroughputRun> {
  const bs = await startBenchSystem(ctx, label, { apis: opts.apis, workers: opts.workers, agent: true });
  const sql = postgres(bs.system.env.VMO_DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    const redisCpu = new NamedCpu('redis-server');
    const postgresCpu = new NamedCpu('postgres');
    const machine0 = readMachineCpu();
    const load = new LoadProcess(
      'load/submit-load',
      {
        mode: 'api',
        concurrency: SUBMITTERS,
        count: opts.n,
        deadlineMs: 300_000,
        urls: bs.system.apiUrls,
        token: bs.system.token,
        body: { command: 'true', target: { type: 'agent', agent: bs.agent!.name } },
      },
      { timeoutMs: 310_000 },
    );
    const { startedAt } = await load.waitFor<{ startedAt: number }>('started');
    // Bounded in time: on a busy machine the count alone could take many minutes.
    const deadline = startedAt + opts.maxMs;
    let endedAt = 0;
    let ended = 0;
    for (;;) {
      const [row] = await sql<{ done: number }[]>`
        select count(*)::int as done from jobs where status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost')`;
      ended = row!.done;
      if (ended >= opts.n || Date.now() > deadline) {
        endedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (ended === 0) throw new Error(`${label}: no job ended within ${opts.maxMs} ms`);
    if (ended >= opts.n) {
      const submitted = await load.result<{ accepted: number; errors: number }>();
      if (submitted.errors > 0) throw new Error(`${label}: ${submitted.errors} submits failed`);
    } else await load.stop();
    const machine1 = readMachineCpu();
    const rows = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from jobs group by status`;
    return {
      perSecond: ended / ((endedAt - startedAt) / 1000),
      ms: endedAt - startedAt,
      ended,
      statuses: Object.fromEntries(rows.map((r) => [r.status, r.n])),
      usage: bs.sampler.stop(),
      redisCpu: redisCpu.stop(),
      postgresCpu: postgresCpu.stop(),
      machineBusyPct: Math.round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100),
    };
  } finally {
    await sql.end({ timeout: 2 });
    await bs.stop();
  }
}

/** The floor: a bare BullMQ worker spawning `true` at the same concurrency, fed by a bare submitter. */
export async function runBareThroughput(ctx: ScenarioContext, n: number, maxMs: number, redisUrl: string, prefix: string): Promise<{ perSecond: number; completed: number; usage: Record<string, ProcessUsage> }> {
  const sampler = new ProcessSampler();
  const worker = new LoadProcess('baseline/bare-worker', { redisUrl, bullPrefix: `{${prefix}}`, queueName: 'bare', concurrency: CONCURRENCY, expect: n, deadlineMs: 300_000 }, { timeoutMs: 310_000 });
  try {
    sampler.track('bare-worker', worker.pid);
    await worker.waitFor('ready');
    const load = new LoadProcess('load/submit-load', { mode: 'queue', concurrency: SUBMITTERS, count: n, deadlineMs: 300_000, redisUrl, bullPrefix: `{${prefix}}`, queueName: 'bare' }, { timeoutMs: 310_000 });
    const { startedAt } = await load.waitFor<{ startedAt: number }>('started');
    const bound = setTimeout(() => void worker.stop(), Math.max(0, startedAt + maxMs - Date.now()));
    const done = await worker.result<{ lastEnd: number; completed: number }>();
    clearTimeout(bound);
    await load.stop();
    ctx.log(`  bare throughput: ${done.completed} jobs in ${done.lastEnd - startedAt} ms`);
    return { perSecond: done.completed / ((done.lastEnd - startedAt) / 1000), completed: done.completed, usage: sampler.stop() };
  } finally {
    await worker.stop();
  }
}

export const throughputScenario: Scenario = {
  name: 'throughput',
  async run(ctx) {
    const n = ctx.quick ? 200 : 5000;
    const maxMs = ctx.quick ? 20_000 : 90_000;
    const measured = await runAgentThroughput(ctx, 'throughput', { n, apis: 1, workers: 1, maxMs });
    ctx.log(`  agent throughput: ${measured.ended} jobs in ${measured.ms} ms ${JSON.stringify(measured.statuses)}`);
    const prefix = createTestPrefix('bench-bare');
    try {
      const bare = await runBareThroughput(ctx, n, maxMs, TEST_REDIS_URL, prefix.prefix);
      const cpu = Object.entries(measured.usage).map(([k, u]) => `${k} ${u.cpuSeconds}s`).join(', ');
      return [
        makeRow({
          scenario: 'throughput (agent, `true`)',
          measured: measured.perSecond,
          baseline: bare.perSecond,
          unit: 'jobs/s',
          goal: atLeastRatio(0.8),
          notes: `${measured.ended} of ${n} jobs ended (bare ${bare.completed}) in at most ${maxMs / 1000} s; ${SUBMITTERS} submitters, concurrency ${CONCURRENCY}; statuses ${JSON.stringify(measured.statuses)}; CPU ${cpu}, redis ${measured.redisCpu}s, postgres ${measured.postgresCpu}s, machine busy ${measured.machineBusyPct}%`,
          usage: { ...measured.usage, ...bare.usage },
        }),
      ];
    } finally {
      await prefix.cleanup();
    }
  },
};
