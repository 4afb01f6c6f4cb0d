import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { atLeastRatio, makeRow, type Scenario } from '../scenario.ts';

const CLIENTS = 64;

interface SubmitResult {
  perSecond: number;
  accepted: number;
  errors: number;
  statuses: Record<string, number>;
  firstError?: string;
}

/**
 * POST /v1/jobs accepted per second with 64 concurrent clients (API only: no worker takes the
 * jobs, so nothing else competes for the CPU), against a script doing the same INSERT and
 * BullMQ add directly with the API's pool size. Each side gets a short unreported warm-up.
 */
export const submitScenario: Scenario = {
  name: 'submit',
  async run(ctx) {
    const durationMs = ctx.quick ? 2000 : 10_000;
    const warmupMs = ctx.quick ? 0 : 1500;
    const bs = await startBenchSystem(ctx, 'submit', { workers: 0 });
    try {
      const { system } = bs;
      const api = (ms: number) =>
        new LoadProcess('load/submit-load', { mode: 'api', concurrency: CLIENTS, durationMs: ms, deadlineMs: ms + 60_000, urls: system.apiUrls, token: system.token, body: { command: 'true' } }, { timeoutMs: ms + 70_000 });
      const direct = (ms: number) =>
        new LoadProcess(
          'load/submit-load',
          { mode: 'direct', concurrency: CLIENTS, durationMs: ms, deadlineMs: ms + 60_000, databaseUrl: system.env.VMO_DATABASE_URL, redisUrl: system.env.VMO_REDIS_URL, bullPrefix: `{${system.env.VMO_REDIS_PREFIX}}`, dbPoolSize: 10 },
          { timeoutMs: ms + 70_000 },
        );
      if (warmupMs) {
        await api(warmupMs).result();
        await direct(warmupMs).result();
      }
      // The load processes share the two cores with what they measure: their CPU goes in the notes.
      const apiLoad = api(durationMs);
      bs.sampler.track('load-http', apiLoad.pid);
      const measured = await apiLoad.result<SubmitResult>();
      const directLoad = direct(durationMs);
      bs.sampler.track('load-direct', directLoad.pid);
      const baseline = await directLoad.result<SubmitResult>();
      const usage = bs.sampler.stop();
      if (measured.accepted === 0) throw new Error(`no submit accepted: ${JSON.stringify(measured.statuses)} ${measured.firstError ?? ''}`);
      return [
        makeRow({
          scenario: 'submit (POST /v1/jobs)',
          measured: measured.perSecond,
          baseline: baseline.perSecond,
          unit: 'jobs/s',
          goal: atLeastRatio(1),
          notes: `${CLIENTS} clients × ${durationMs / 1000} s; ${measured.accepted} accepted, non-201: ${measured.errors}; baseline ${baseline.accepted} (INSERT … RETURNING + Queue.add, pool 10); CPU s: ${Object.entries(usage).map(([k, u]) => `${k} ${u.cpuSeconds}`).join(', ')}`,
          usage: { api: usage.api! },
        }),
      ];
    } finally {
      await bs.stop();
    }
  },
};
