import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { generateKey, knownHostsLine, startSshd, type KeyPair, type Sshd } from '@vmo/testkit';
import { startBenchSystem } from '../bench-system.ts';
import { registerCleanup } from '../interrupt-cleanup.ts';
import { LoadProcess } from '../load-process.ts';
import { ProcessSampler, readMachineCpu, type ProcessUsage } from '../rss-sampler.ts';
import { atLeastRatio, makeRow, type Scenario, type ScenarioContext } from '../scenario.ts';

/** Clients submitting at once (API side), and `ssh` binaries running at once (baseline side). */
const CONCURRENCY = 16;
const HOST_NAME = 'bench-sshd';

interface SshFixture {
  sshd: Sshd;
  userKey: KeyPair;
  knownHosts: string;
  user: string;
}

interface Side {
  perSecond: number;
  ms: number;
  completed: number;
  failed: number;
  usage: Record<string, ProcessUsage>;
  machineBusyPct: number;
}

/**
 * `n` jobs running `true` on one ssh host (a real sshd on loopback) through the real API and
 * worker: from the first POST (16 concurrent clients, a separate process) until every job is
 * terminal in Postgres, polled every 25 ms. The worker holds one pooled connection to the host
 * and runs up to VMO_SSH_MAX_CHANNELS (default 8) sessions on it at once.
 */
async function runPooled(ctx: ScenarioContext, fx: SshFixture, n: number, maxMs: number): Promise<Side & { statuses: Record<string, number>; connections: number }> {
  const bs = await startBenchSystem(ctx, 'ssh', { env: { VMO_SSH_KNOWN_HOSTS: fx.knownHosts, VMO_SSH_KEY_DIRS: dirname(fx.userKey.privatePath) } });
  const sql = postgres(bs.system.env.VMO_DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    const res = await bs.system.client.request('POST', '/v1/hosts', { name: HOST_NAME, host: '127.0.0.1', port: fx.sshd.port, user: fx.user, identityFile: fx.userKey.privatePath });
    if (res.status !== 201) throw new Error(`POST /v1/hosts: ${res.status} ${JSON.stringify(res.body)}`);
    const acceptedBefore = await fx.sshd.acceptedConnections();
    const machine0 = readMachineCpu();
    const load = new LoadProcess(
      'load/submit-load',
      {
        mode: 'api',
        concurrency: CONCURRENCY,
        count: n,
        deadlineMs: maxMs + 30_000,
        urls: bs.system.apiUrls,
        token: bs.system.token,
        body: { command: 'true', target: { type: 'ssh', host: HOST_NAME } },
      },
      { timeoutMs: maxMs + 40_000 },
    );
    bs.sampler.track('submit-load', load.pid);
    const { startedAt } = await load.waitFor<{ startedAt: number }>('started');
    const deadline = startedAt + maxMs;
    let endedAt = 0;
    let ended = 0;
    for (;;) {
      const [row] = await sql<{ done: number }[]>`
        select count(*)::int as done from jobs where status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost')`;
      ended = row!.done;
      if (ended >= n || Date.now() > deadline) {
        endedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const machine1 = readMachineCpu();
    if (ended >= n) {
      const submitted = await load.result<{ accepted: number; errors: number; firstError?: string; statuses: Record<string, number> }>();
      if (submitted.errors > 0) throw new Error(`ssh: ${submitted.errors} submits failed (${submitted.firstError ?? JSON.stringify(submitted.statuses)})`);
    } else await load.stop();
    const rows = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from jobs group by status`;
    const statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    const failed = ended - (statuses.succeeded ?? 0);
    if (ended > 0 && failed === ended) {
      const [sample] = await sql<{ error_code: string | null; error_message: string | null; exit_code: number | null }[]>`
        select error_code, error_message, exit_code from jobs where status <> 'succeeded' and status in ('failed', 'canceled', 'timed_out', 'lost') limit 1`;
      throw new Error(`ssh: every job failed, e.g. ${JSON.stringify(sample)}`);
    }
    if (ended === 0) throw new Error(`ssh: no job ended within ${maxMs} ms`);
    const succeeded = statuses.succeeded ?? 0;
    return {
      perSecond: succeeded / ((endedAt - startedAt) / 1000),
      ms: endedAt - startedAt,
      completed: succeeded,
      failed,
      statuses,
      connections: (await fx.sshd.acceptedConnections()) - acceptedBefore,
      usage: bs.sampler.stop(),
      machineBusyPct: Math.round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100),
    };
  } finally {
    await sql.end({ timeout: 2 });
    await bs.stop();
  }
}

/** The baseline: `ssh … true` once per job, CONCURRENCY at a time, from a separate process. */
async function runPerJobSsh(ctx: ScenarioContext, fx: SshFixture, n: number, maxMs: number): Promise<Side> {
  const sampler = new ProcessSampler();
  const machine0 = readMachineCpu();
  const load = new LoadProcess(
    'baseline/ssh-per-job',
    { host: '127.0.0.1', port: fx.sshd.port, user: fx.user, identityFile: fx.userKey.privatePath, knownHosts: fx.knownHosts, command: 'true', concurrency: CONCURRENCY, count: n, durationMs: maxMs, deadlineMs: maxMs + 30_000 },
    { timeoutMs: maxMs + 40_000 },
  );
  try {
    sampler.track('ssh-per-job', load.pid);
    const done = await load.result<{ completed: number; failed: number; firstError?: string; startedAt: number; lastEnd: number; perSecond: number }>();
    const machine1 = readMachineCpu();
    if (done.completed === 0) throw new Error(`ssh baseline: no run succeeded (${done.failed} failed: ${done.firstError ?? '?'})`);
    if (done.failed > 0) ctx.log(`  ssh baseline: ${done.failed} runs failed, e.g. ${done.firstError}`);
    return {
      perSecond: done.perSecond,
      ms: done.lastEnd - done.startedAt,
      completed: done.completed,
      failed: done.failed,
      usage: sampler.stop(),
      machineBusyPct: Math.round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100),
    };
  } finally {
    await load.stop();
  }
}

/**
 * SSH jobs through the pooled connection against the `ssh` client binary run once per job, both
 * on one real sshd on loopback (the test kit's), in the same run. Report only: the pooled path
 * should be well above 1, since the baseline pays a TCP connect, key exchange and
 * authentication (and an sshd fork) per job.
 */
export const sshScenario: Scenario = {
  name: 'ssh',
  async run(ctx) {
    const n = ctx.quick ? 50 : 1000;
    const maxMs = ctx.quick ? 20_000 : 60_000;
    const dir = join(ctx.tmpDir, 'ssh');
    mkdirSync(dir, { recursive: true });
    const userKey = await generateKey(dir, 'user_key');
    const sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const unregister = registerCleanup(() => sshd.stop());
    try {
      const knownHosts = join(dir, 'known_hosts');
      writeFileSync(knownHosts, `${await knownHostsLine(sshd)}\n`);
      const fx: SshFixture = { sshd, userKey, knownHosts, user: userInfo().username };

      const pooled = await runPooled(ctx, fx, n, maxMs);
      ctx.log(`  pooled ssh: ${pooled.completed} of ${n} succeeded in ${pooled.ms} ms over ${pooled.connections} connection(s) ${JSON.stringify(pooled.statuses)}`);
      const bare = await runPerJobSsh(ctx, fx, n, maxMs);
      ctx.log(`  ssh per job: ${bare.completed} of ${n} succeeded in ${bare.ms} ms`);

      const cpu = Object.entries(pooled.usage).map(([k, u]) => `${k} ${u.cpuSeconds}s`).join(', ');
      return [
        makeRow({
          scenario: 'ssh (pooled, `true`)',
          measured: pooled.perSecond,
          baseline: bare.perSecond,
          unit: 'jobs/s',
          goal: atLeastRatio(3),
          notes:
            `${pooled.completed} of ${n} jobs succeeded (${pooled.failed} failed) over ${pooled.connections} ssh connection(s) in ${(pooled.ms / 1000).toFixed(1)} s; ` +
            `ssh per job ${bare.completed} of ${n} (${bare.failed} failed) in ${(bare.ms / 1000).toFixed(1)} s; bounded at ${maxMs / 1000} s each; ` +
            `${CONCURRENCY} submitters / ${CONCURRENCY} ssh at once, worker channels per connection VMO_SSH_MAX_CHANNELS (default 8); ` +
            `statuses ${JSON.stringify(pooled.statuses)}; CPU ${cpu}, ssh-per-job driver ${bare.usage['ssh-per-job']?.cpuSeconds ?? '?'}s; machine busy ${pooled.machineBusyPct}% pooled, ${bare.machineBusyPct}% per job`,
          usage: { ...pooled.usage, ...bare.usage },
        }),
      ];
    } finally {
      unregister();
      await sshd.stop();
    }
  },
};
