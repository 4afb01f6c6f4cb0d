import { makeRow, reportOnly, type BenchRow, type Scenario } from '../scenario.ts';
import { runAgentThroughput } from './throughput.ts';

/**
 * The throughput scenario with 1 and 2 worker processes × 1 and 2 API processes (the agent on
 * the first API; submits round-robin over all). Baseline: the 1 × 1 run of this same scenario.
 * Notes carry each process's CPU seconds next to Redis's and Postgres's, to show which one
 * saturates first.
 */
export const scaleOutScenario: Scenario = {
  name: 'scale-out',
  async run(ctx) {
    const n = ctx.quick ? 100 : 2000;
    const maxMs = ctx.quick ? 15_000 : 40_000;
    const shapes: [workers: number, apis: number][] = ctx.quick ? [[1, 1], [2, 2]] : [[1, 1], [2, 1], [1, 2], [2, 2]];
    const rows: BenchRow[] = [];
    let base = 0;
    for (const [workers, apis] of shapes) {
      const label = `scale-out-w${workers}a${apis}`;
      const run = await runAgentThroughput(ctx, label, { n, apis, workers, maxMs });
      base ||= run.perSecond;
      const cpu = Object.entries(run.usage).map(([k, u]) => `${k} ${u.cpuSeconds}s`).join(', ');
      ctx.log(`  ${label}: ${run.perSecond.toFixed(1)} jobs/s`);
      rows.push(
        makeRow({
          scenario: `scale-out ${workers} worker${workers > 1 ? 's' : ''} × ${apis} API${apis > 1 ? 's' : ''}`,
          measured: run.perSecond,
          baseline: base,
          unit: 'jobs/s',
          goal: reportOnly,
          notes: `${run.ended} of ${n} agent jobs ended in ${(run.ms / 1000).toFixed(1)} s (bound ${maxMs / 1000} s); CPU ${cpu}, redis ${run.redisCpu}s, postgres (all backends) ${run.postgresCpu}s; machine busy ${run.machineBusyPct}%`,
          usage: run.usage,
        }),
      );
    }
    return rows;
  },
};
