import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { ProcessSampler } from '../rss-sampler.ts';
import { atLeastRatio, makeRow, reportOnly, type Scenario } from '../scenario.ts';
import { summarize } from '../stats.ts';

const GENERATOR = fileURLToPath(new URL('../load/timestamped-output.mjs', import.meta.url));
const MiB = 1024 * 1024;

interface FollowResult {
  firstByteAt: number;
  lastByteAt: number;
  totalBytes: number;
  complete: number;
  statuses: string[];
  reconnects: number;
  closeCodes: Record<string, number>;
  lags: number[];
}

/**
 * One local job's output (timestamped lines) to N WebSocket subscribers: aggregate MiB/s from the
 * first byte any subscriber sees to the last byte the last one sees, and the lag of each chunk
 * (time at the subscriber − time the line was written). The job waits for a go-file that the
 * load process creates once every subscriber is connected. Baseline: the same generator's bytes
 * broadcast by a bare `ws` server to N clients.
 */
export const fanOutScenario: Scenario = {
  name: 'fan-out',
  async run(ctx) {
    const n = ctx.quick ? 50 : 1000;
    const bytes = ctx.quick ? MiB / 4 : MiB;
    const deadlineMs = ctx.quick ? 60_000 : 180_000;
    const goFile = join(ctx.tmpDir, `fan-out-go-${randomBytes(4).toString('hex')}`);
    const command = `while [ ! -e ${goFile} ]; do sleep 0.02; done; exec ${process.execPath} ${GENERATOR} ${bytes}`;

    const bs = await startBenchSystem(ctx, 'fan-out', {});
    let measured: FollowResult;
    let usage;
    try {
      const { system } = bs;
      const followers = new LoadProcess(
        'load/job-followers',
        { mode: 'vmo', n, lag: true, expectBytes: bytes, deadlineMs, goFile, apiUrl: system.apiUrls[0], token: system.token, job: { command, target: { type: 'local' } } },
        { timeoutMs: deadlineMs + 10_000 },
      );
      bs.sampler.track('subscribers', followers.pid);
      measured = await followers.result<FollowResult>();
      usage = bs.sampler.stop();
    } finally {
      await bs.stop();
    }

    const sampler = new ProcessSampler();
    const server = new LoadProcess('baseline/bare-broadcast', { n, argv: [process.execPath, GENERATOR, String(bytes)], deadlineMs }, { timeoutMs: deadlineMs + 10_000 });
    sampler.track('bare-ws', server.pid);
    let baseline: FollowResult;
    try {
      const { url } = await server.waitFor<{ url: string }>('listening');
      const clients = new LoadProcess('load/job-followers', { mode: 'bare', n, lag: true, expectBytes: bytes, deadlineMs, url }, { timeoutMs: deadlineMs + 10_000 });
      sampler.track('bare-clients', clients.pid);
      baseline = await clients.result<FollowResult>();
    } finally {
      await server.stop();
    }
    const bareUsage = sampler.stop();

    if (measured.complete !== n) throw new Error(`fan-out: only ${measured.complete} of ${n} subscribers got all ${bytes} bytes (close codes ${JSON.stringify(measured.closeCodes)})`);
    const rate = (r: FollowResult) => r.totalBytes / MiB / ((r.lastByteAt - r.firstByteAt) / 1000);
    const lag = summarize(measured.lags);
    const bareLag = summarize(baseline.lags);
    const allUsage = { ...usage, ...bareUsage };
    return [
      makeRow({
        scenario: `fan-out ${n} subscribers`,
        measured: rate(measured),
        baseline: rate(baseline),
        unit: 'MiB/s',
        goal: atLeastRatio(0.5),
        notes: `${bytes / MiB} MiB to each of ${n}; reconnects ${measured.reconnects}; close codes ${JSON.stringify(measured.closeCodes)}; subscribers/bare-clients are the load processes`,
        usage: allUsage,
      }),
      makeRow({
        scenario: `fan-out p99 lag`,
        measured: lag.p99,
        baseline: bareLag.p99,
        unit: 'ms',
        goal: reportOnly,
        notes: `lag p50 ${lag.p50.toFixed(1)} ms (bare ${bareLag.p50.toFixed(1)} ms) over ${lag.n} samples`,
      }),
    ];
  },
};
