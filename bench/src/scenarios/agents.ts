import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { newId } from '@vmo/shared/ids';
import { generateToken, hashToken } from '@vmo/shared/tokens';
import { keys } from '@vmo/shared/redis';
import { waitFor } from '@vmo/testkit';
import { LoadProcess } from '../load-process.ts';
import { startBenchSystem } from '../bench-system.ts';
import { ProcessSampler, type ProcessUsage } from '../rss-sampler.ts';
import { atMost, atMostRatio, makeRow, type Scenario } from '../scenario.ts';

const IN_FLIGHT = 200;
const SETTLE_MS = 1000;

interface Held {
  onlineMs: number;
  rssPerConnKiB: number;
  idleCpuPct: number;
  failures: number;
}

/**
 * N simulated agents held by one API process (agent-sim: hello/welcome/heartbeat over the real
 * endpoint), registered in bulk straight into Postgres. RSS per connection = (RSS after all are
 * online and a short settle − RSS before) / N; idle CPU = the API's CPU over a window of
 * heartbeats; time until all are online = until the last `welcome` (sent after the presence key).
 * Baseline: a bare `ws` server holding N idle connections from the same simulator.
 */
export const agentsScenario: Scenario = {
  name: 'agents',
  async run(ctx) {
    const n = ctx.quick ? 200 : 10_000;
    const heartbeatMs = ctx.quick ? 1000 : 10_000;
    const idleMs = ctx.quick ? 1500 : 2 * heartbeatMs;
    const deadlineMs = ctx.quick ? 60_000 : 240_000;

    // Baseline first: its sockets' TIME_WAITs are on the client side and do not bother the API.
    const sampler = new ProcessSampler();
    const bare = new LoadProcess('baseline/bare-ws-server', { deadlineMs }, { timeoutMs: deadlineMs + 10_000 });
    sampler.track('bare-ws', bare.pid);
    let baseline: Held;
    try {
      const { url } = await bare.waitFor<{ url: string }>('listening');
      baseline = await hold(sampler, 'bare-ws', { mode: 'bare', url, n, deadlineMs }, idleMs);
    } finally {
      await bare.stop();
    }
    const bareUsage = sampler.stop();

    const bs = await startBenchSystem(ctx, 'agents', { workers: 0, env: { VMO_HEARTBEAT_MS: String(heartbeatMs) } });
    let measured: Held;
    let online = 0;
    let usage: Record<string, ProcessUsage> = {};
    try {
      const { system } = bs;
      const tokens = Array.from({ length: n }, () => generateToken('agent'));
      const ids = tokens.map(() => newId('agt'));
      const sql = postgres(system.env.VMO_DATABASE_URL!, { max: 1, onnotice: () => {} });
      try {
        for (let i = 0; i < n; i += 1000) {
          const rows = tokens.slice(i, i + 1000).map((t, j) => ({ id: ids[i + j]!, name: `sim-${i + j}`, token_hash: hashToken(t) }));
          await sql`insert into agents ${sql(rows)}`;
        }
      } finally {
        await sql.end({ timeout: 2 });
      }
      const tokensFile = join(ctx.tmpDir, 'agent-tokens');
      writeFileSync(tokensFile, tokens.join('\n'));
      const wsUrl = `${system.apiUrls[0]!.replace(/^http/, 'ws')}/v1/agent/connect`;
      measured = await hold(bs.sampler, 'api', { mode: 'agents', url: wsUrl, tokensFile, n, deadlineMs }, idleMs, async () => {
        // Cross-check through Redis: every agent has its presence key (what `online` means).
        const redis = new Redis(system.env.VMO_REDIS_URL!, { maxRetriesPerRequest: 1 });
        try {
          const k = keys(system.env.VMO_REDIS_PREFIX!);
          await waitFor('every simulated agent online', async () => {
            online = 0;
            for (let i = 0; i < n; i += 1000) online += (await redis.mget(...ids.slice(i, i + 1000).map((id) => k.agentPresence(id)))).filter((v) => v !== null).length;
            return online === n;
          }, 30_000, 200);
        } finally {
          redis.disconnect();
        }
      });
    } finally {
      usage = bs.sampler.stop();
      await bs.stop();
    }
    const notes = `${n} agents, heartbeat ${heartbeatMs} ms, ${IN_FLIGHT} handshakes in flight; presence keys ${online}/${n}; failures ${measured.failures}`;
    return [
      makeRow({ scenario: `agents ${n}: RSS per connection`, measured: measured.rssPerConnKiB, baseline: baseline.rssPerConnKiB, unit: 'KiB', goal: atMostRatio(3), notes, usage: { ...usage, ...bareUsage } }),
      makeRow({ scenario: `agents ${n}: time until all online`, measured: measured.onlineMs / 1000, baseline: baseline.onlineMs / 1000, unit: 's', goal: atMostRatio(2), notes: 'baseline: plain WebSocket connects, no handshake' }),
      makeRow({ scenario: `agents ${n}: idle CPU (heartbeats)`, measured: measured.idleCpuPct, baseline: baseline.idleCpuPct, unit: '% core', goal: atMost(2, '% core'), notes: `API CPU over ${idleMs / 1000} s of heartbeats; baseline holds silent sockets` }),
    ];
  },
};

async function hold(sampler: ProcessSampler, label: string, simArgs: Record<string, unknown>, idleMs: number, check?: () => Promise<void>): Promise<Held> {
  const n = simArgs.n as number;
  const rssBefore = sampler.rssMiB(label);
  const sim = new LoadProcess('load/agent-sim', { ...simArgs, inFlight: IN_FLIGHT }, { timeoutMs: (simArgs.deadlineMs as number) + 10_000 });
  try {
    const online = await sim.waitFor<{ ms: number; failures: number; firstFailure?: string }>('online');
    if (online.failures > 0) throw new Error(`${online.failures} of ${n} simulated connections failed: ${online.firstFailure}`);
    await check?.();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const rssAfter = sampler.rssMiB(label);
    const cpu0 = sampler.cpuSeconds(label);
    await new Promise((r) => setTimeout(r, idleMs));
    const cpu1 = sampler.cpuSeconds(label);
    return { onlineMs: online.ms, rssPerConnKiB: ((rssAfter - rssBefore) * 1024) / n, idleCpuPct: ((cpu1 - cpu0) / (idleMs / 1000)) * 100, failures: online.failures };
  } finally {
    await sim.stop();
  }
}
