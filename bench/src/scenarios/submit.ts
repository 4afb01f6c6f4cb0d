import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { atLeastRatio, makeRow, reportOnly, type BenchRow, type Scenario } from '../scenario.ts';

const CLIENTS = 64;
/** Fewer clients, for latency: batching (group commit) must not slow the quiet API down. */
const LATENCY_CLIENTS = [1, 8] as const;

interface SubmitResult {
  perSecond: number;
  accepted: number;
  errors: number;
  statuses: Record<string, number>;
  firstError?: string;
  /** Per accepted submission, call to answer. */
  latencyMs: { p50: number; p99: number; max: number };
}

/**
 * POST /v1/jobs accepted per second with 64 concurrent clients (API only: no worker takes the
 * jobs, so nothing else competes for the CPU), against a script doing the same INSERT and
 * BullMQ add directly with the API's pool size. Each side gets a short unreported warm-up.
 * Then p99 submit latency at 1, 8 and 64 clients, each against the direct script at as many.
 */
export const submitScenario: Scenario = {
  name: 'submit',
  async run(ctx) {
    const durationMs = ctx.quick ? 2000 : 10_000;
    const warmupMs = ctx.quick ? 0 : 1500;
    const bs = await startBenchSystem(ctx, 'submit', { workers: 0 });
    try {
      const { system } = bs;
      const api = (ms: number, clients = CLIENTS) =>
        new LoadProcess('load/submit-load', { mode: 'api', concurrency: clients, durationMs: ms, deadlineMs: ms + 60_000, urls: system.apiUrls, token: system.token, body: { command: 'true' } }, { timeoutMs: ms + 70_000 });
      const direct = (ms: number, clients = CLIENTS) =>
        new LoadProcess(
          'load/submit-load',
          { mode: 'direct', concurrency: clients, durationMs: ms, deadlineMs: ms + 60_000, databaseUrl: system.env.VMO_DATABASE_URL, redisUrl: system.env.VMO_REDIS_URL, bullPrefix: `{${system.env.VMO_REDIS_PREFIX}}`, dbPoolSize: 10 },
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
      // Latency at fewer clients (after the throughput run, so its CPU figures above are its own).
      const latencyMs = ctx.quick ? 1000 : 4000;
      const latencyRows: BenchRow[] = [];
      for (const clients of LATENCY_CLIENTS) {
        const m = await api(latencyMs, clients).result<SubmitResult>();
        const b = await direct(latencyMs, clients).result<SubmitResult>();
        latencyRows.push(latencyRow(clients, m, b));
      }
      latencyRows.push(latencyRow(CLIENTS, measured, baseline));
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
        ...latencyRows,
      ];
    } finally {
      await bs.stop();
    }
  },
};

/** p99 of POST /v1/jobs at `clients` clients against the direct INSERT + add at as many (p50 and jobs/s in the notes). */
function latencyRow(clients: number, measured: SubmitResult, baseline: SubmitResult): BenchRow {
  const ms = (v: number) => v.toFixed(2);
  return makeRow({
    scenario: `submit p99 latency, ${clients} client${clients === 1 ? '' : 's'}`,
    measured: measured.latencyMs.p99,
    baseline: baseline.latencyMs.p99,
    unit: 'ms',
    goal: reportOnly,
    notes: `p50 ${ms(measured.latencyMs.p50)} ms (baseline ${ms(baseline.latencyMs.p50)}); ${Math.round(measured.perSecond)} jobs/s (baseline ${Math.round(baseline.perSecond)}); non-201: ${measured.errors}`,
  });
}
