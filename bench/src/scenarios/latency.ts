import { randomBytes } from 'node:crypto';
import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { ProcessSampler } from '../rss-sampler.ts';
import { atMost, atMostRatio, makeRow, type BenchRow, type Scenario } from '../scenario.ts';
import { summarize } from '../stats.ts';

interface LatencyResult {
  samples: number[];
  submits: number[];
}

/**
 * Submit `echo hi` → first output byte at a WebSocket subscriber, one job at a time, on the agent
 * path and the local path; baseline: BullMQ add → bare worker spawns `echo hi` → first stdout byte.
 */
export const latencyScenario: Scenario = {
  name: 'latency',
  async run(ctx) {
    const n = ctx.quick ? 30 : 1000;
    const warmup = ctx.quick ? 3 : 20;
    // Bounded per path: on a busy machine 1,000 agent jobs in a row can take minutes.
    const maxMs = ctx.quick ? 15_000 : 45_000;
    const deadlineMs = maxMs + 60_000;
    const bs = await startBenchSystem(ctx, 'latency', { agent: true });
    try {
      const { system } = bs;
      const vmo = (target: Record<string, unknown>) =>
        new LoadProcess('load/latency-load', { mode: 'vmo', n, warmup, maxMs, command: 'echo hi', deadlineMs, apiUrl: system.apiUrls[0], token: system.token, target }, { timeoutMs: deadlineMs + 10_000 }).result<LatencyResult>();
      const agent = await vmo({ type: 'agent', agent: bs.agent!.name });
      const local = await vmo({ type: 'local' });
      const usage = bs.sampler.stop();

      const sampler = new ProcessSampler();
      // The system's own BullMQ prefix, another queue: the test kit's cleanup removes its keys too.
      const prefix = system.env.VMO_REDIS_PREFIX!;
      const notifyChannel = `${prefix}:bare-latency:${randomBytes(4).toString('hex')}`;
      const common = { redisUrl: system.env.VMO_REDIS_URL!, bullPrefix: `{${prefix}}`, queueName: 'bare-latency', notifyChannel, deadlineMs };
      const worker = new LoadProcess('baseline/bare-worker', { ...common, concurrency: 32 }, { timeoutMs: deadlineMs + 10_000 });
      sampler.track('bare-worker', worker.pid);
      let bare: LatencyResult;
      try {
        await worker.waitFor('ready');
        bare = await new LoadProcess('load/latency-load', { ...common, mode: 'bare', n, warmup, maxMs, command: 'echo hi' }, { timeoutMs: deadlineMs + 10_000 }).result<LatencyResult>();
      } finally {
        await worker.stop();
      }
      const bareUsage = sampler.stop();
      const b = summarize(bare.samples);
      const rows: BenchRow[] = [];
      for (const [path, result] of [['agent', agent], ['local', local]] as const) {
        const s = summarize(result.samples);
        const submit = summarize(result.submits);
        const notes = `${s.n} sequential jobs (of ${n}, bounded at ${maxMs / 1000} s; baseline ${b.n}); p90 ${s.p90.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; of which POST /v1/jobs p50 ${submit.p50.toFixed(1)} ms; baseline p90 ${b.p90.toFixed(1)} ms`;
        rows.push(makeRow({ scenario: `latency ${path} p50`, measured: s.p50, baseline: b.p50, unit: 'ms', goal: atMostRatio(1.5), notes, usage: { ...usage, ...bareUsage } }));
        rows.push(makeRow({ scenario: `latency ${path} p99`, measured: s.p99, baseline: b.p99, unit: 'ms', goal: atMost(25, 'ms'), notes: '', usage: {} }));
      }
      return rows;
    } finally {
      await bs.stop();
    }
  },
};
