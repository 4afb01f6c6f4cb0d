import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
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
import { atMost, atMostRatio, makeRow, reportOnly, type ScenarioContext, type Scenario } from '../scenario.ts';
import { preciseNow } from '../stats.ts';

/** API processes holding the agents (issue 16's moonshot: 100,000 agents over 4 APIs); VMO_BENCH_APIS overrides. */
const DEFAULT_APIS = 4;
/** At most this many sockets per simulator process (client side), so each stays a modest process. */
const PER_SIM_MAX = 25_000;
/** fds a process needs besides its sockets: Postgres and Redis pools, pipes, log files, the listener. */
const FD_RESERVE = 1024;
/**
 * At most this many connections per source address. A socket bound to an address (localAddress)
 * takes its ephemeral port for that address alone, whatever the destination, out of
 * ip_local_port_range (32768–60999 here: 28,232 ports); 10,000 leaves room for TIME_WAITs.
 */
const PER_ADDRESS_MAX = 10_000;
const IN_FLIGHT = 200;
/**
 * Source addresses per simulator at least (connections round-robin over them): ≤ 4 handshakes in
 * flight per address. From one address, 200 in flight met the API's slowloris guard
 * (VMO_MAX_UNAUTH_CONNECTIONS_PER_IP, 64 per address, counting those whose headers wait ≥ 1 s):
 * at 20,000 on a starved box, 364 upgrades were answered 429. A real fleet comes from many addresses.
 */
const MIN_ADDRESSES_PER_SIM = 50;
const SETTLE_MS = 2000;
/** Each API's Postgres pool (openControlPlane's default): what 4 APIs take from max_connections. */
const API_DB_POOL = 10;

interface Held {
  onlineMs: number;
  rssPerConnKiB: number;
  /** Summed over the servers (4 APIs or 4 bare servers), % of one core. */
  idleCpuPct: number;
  failures: number;
  firstFailure: string | undefined;
  /** RSS after all were online, per server, MiB. */
  rssAfterMiB: number[];
  /** The servers' CPU from the go until all were online, per connection, ms: what a loaded machine's wall time hides. */
  connectCpuMs: number;
}

/**
 * Issue 16's moonshot, opt-in (`--only agents-100k`, size `--agents N`, default 100,000): N
 * simulated agents (agent-sim: the real hello/welcome/heartbeat + pings) held across 4 API
 * processes (workers 0; VMO_BENCH_APIS=k for another count), registered in bulk straight into
 * Postgres. The simulators are split into processes of ≤ 25,000 sockets (fewer if the fd limit
 * says so), a multiple of the API count so every API gets the same share, each connecting to one
 * API with IN_FLIGHT handshakes in flight, all released at once by a go-file.
 *
 * Machine limits, handled here rather than by changing the machine:
 * - file descriptors: every socket is an fd on both sides of this box (an API holds N/4, a
 *   simulator its share), past a shell's usual `ulimit -n`. The bench raises its own RLIMIT_NOFILE
 *   (prlimit on its pid) before it starts anything, so every child inherits it, and puts it back
 *   afterwards. Raising the hard limit needs CAP_SYS_RESOURCE: a container without it (root or
 *   not) keeps its hard limit, and then the run is refused up front when an API's share does not
 *   fit under it, naming the API count or N that would fit, instead of failing accepts (EMFILE).
 * - ephemeral ports: 100,000 connections from 127.0.0.1 to 4 ports would need 25,000 source ports
 *   per destination out of 28,232, with no room for the previous phase's TIME_WAITs. Instead each
 *   simulator binds its connections to its own source addresses (127.a.b.c: all of 127/8 is
 *   loopback on Linux, no configuration), ≤ 10,000 per address, in a block picked at random per
 *   phase, so neither the baseline's TIME_WAITs nor an earlier run's are in the way. The APIs keep
 *   listening on 127.0.0.1 as TestSystem starts them.
 *
 * Reported: time from the go until the last simulator's last `welcome`; RSS per connection summed
 * over the 4 APIs ((Σ RSS after all online and a settle − Σ RSS before) / N); idle CPU of the 4
 * APIs together over two heartbeat intervals; failed connections. Online is cross-checked through
 * Redis (every agent's presence key). Baseline: 4 bare `ws` servers, each holding its share of N
 * idle connections from the same simulators; if it cannot be held, the rows say so and the API
 * phase still runs.
 */
export const agents100kScenario: Scenario = {
  name: 'agents-100k',
  optIn: true,
  async run(ctx) {
    const n = ctx.agents ?? (ctx.quick ? 2000 : 100_000);
    const heartbeatMs = ctx.quick ? 1000 : 10_000;
    const idleMs = 2 * heartbeatMs;
    // A bound for stuck processes, not a goal: a quiet 2-core box does ~1,000 handshakes/s (agents:
    // 10,000 in ~10 s); a loaded one was seen at 25/s (5,000 in 195 s), which 50 ms each still covers.
    const deadlineMs = 300_000 + n * 50;
    const apis = Number(process.env.VMO_BENCH_APIS ?? DEFAULT_APIS);
    if (!(Number.isInteger(apis) && apis > 0)) throw new Error(`VMO_BENCH_APIS wants a positive whole number, not ${process.env.VMO_BENCH_APIS}`);
    const perServer = Math.ceil(n / apis);
    const { nofile, restore } = raiseOwnNofile(Math.max(65_536, Math.min(perServer, PER_SIM_MAX) + FD_RESERVE * 8));
    try {
      // Every process started from here on inherits `nofile`: what one of them may hold.
      const room = nofile - FD_RESERVE;
      if (perServer > room) {
        throw new Error(
          `each of ${apis} APIs would hold ${perServer} sockets, but the processes started here may open ${nofile} files (RLIMIT_NOFILE, hard; ` +
            `raising it needs CAP_SYS_RESOURCE, which this process lacks): use VMO_BENCH_APIS=${Math.ceil(n / room)} or --agents ${apis * room}, or run where \`ulimit -Hn\` is higher`,
        );
      }
      const perSimMax = Math.min(PER_SIM_MAX, room);
      const sims = Math.ceil(n / perSimMax / apis) * apis;
      ctx.log(`  ${n} agents over ${apis} APIs, ${sims} simulators of ≤ ${Math.ceil(n / sims)}; RLIMIT_NOFILE ${nofile} for the processes started here`);
      return await runAt(ctx, { n, apis, heartbeatMs, idleMs, deadlineMs, sims, nofile });
    } finally {
      restore();
    }
  },
};

async function runAt(ctx: ScenarioContext, p: { n: number; apis: number; heartbeatMs: number; idleMs: number; deadlineMs: number; sims: number; nofile: number }): Promise<ReturnType<typeof makeRow>[]> {
  const { n, apis, heartbeatMs, idleMs, deadlineMs, sims } = p;
  await checkPostgresRoom(apis);

  // Baseline first: its TIME_WAITs are on other source addresses than the API phase's.
  const bareSampler = new ProcessSampler();
  const bareLabels = Array.from({ length: apis }, (_, i) => (i === 0 ? 'bare-ws' : `bare-ws${i + 1}`));
  const bares = bareLabels.map(() => new LoadProcess('baseline/bare-ws-server', { deadlineMs }, { timeoutMs: deadlineMs + 10_000 }));
  bares.forEach((b, i) => bareSampler.track(bareLabels[i]!, b.pid));
  let baseline: Held | undefined;
  let baselineError: string | undefined;
  try {
    const urls = await Promise.all(bares.map(async (b) => (await b.waitFor<{ url: string }>('listening')).url));
    ctx.log(`  baseline: ${n} plain connections to ${apis} bare ws servers`);
    baseline = await holdSplit(ctx, bareSampler, bareLabels, urls, { mode: 'bare', n, sims, deadlineMs, idleMs, phase: 'bare' });
  } catch (err) {
    // Not fatal: the rows say why there is no baseline, and the API phase still runs.
    baselineError = (err as Error).message.split('\n')[0]!.slice(0, 300);
    ctx.log(`  baseline not held: ${baselineError}`);
  } finally {
    await Promise.all(bares.map((b) => b.stop()));
  }
  const bareUsage = bareSampler.stop();

  // One API first, then the others one at a time: four starting at once on two loaded cores
  // (~3 s of CPU each) overran TestSystem's 75 s start deadline (load average 40).
  const bs = await startBenchSystem(ctx, 'agents-100k', { apis: 1, workers: 0, env: { VMO_HEARTBEAT_MS: String(heartbeatMs) } });
  const apiLabels = Array.from({ length: apis }, (_, i) => (i === 0 ? 'api' : `api${i + 1}`));
  let measured: Held;
  let online = 0;
  let usage: Record<string, ProcessUsage> = {};
  try {
    const { system } = bs;
    for (let i = 1; i < apis; i++) bs.sampler.track(apiLabels[i]!, (await system.startApi()).pid);
    ctx.log(`  ${apis} APIs listening: ${system.apiUrls.join(' ')}`);
    const apiNofile = system.apis.map((a) => openFilesLimit(a.pid));
    if (apiNofile.some((l) => l !== undefined && l < Math.ceil(n / apis) + FD_RESERVE)) throw new Error(`the API processes' open-files limit (${apiNofile.join(', ')}) is below the ${Math.ceil(n / apis)} sockets each must hold`);
    const t0 = Date.now();
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
    ctx.log(`  registered ${n} agents in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const urls = system.apiUrls.map((u) => `${u.replace(/^http/, 'ws')}/v1/agent/connect`);
    measured = await holdSplit(ctx, bs.sampler, apiLabels, urls, { mode: 'agents', n, sims, deadlineMs, idleMs, phase: 'agents', tokens }, async (expected) => {
      // Cross-check through Redis: every welcomed agent has its presence key (what `online` means).
      const redis = new Redis(system.env.VMO_REDIS_URL!, { maxRetriesPerRequest: 1 });
      try {
        const k = keys(system.env.VMO_REDIS_PREFIX!);
        const count = async () => {
          let c = 0;
          for (let i = 0; i < n; i += 1000) c += (await redis.mget(...ids.slice(i, i + 1000).map((id) => k.agentPresence(id)))).filter((v) => v !== null).length;
          return c;
        };
        await waitFor('every welcomed simulated agent online in Redis', async () => (online = await count()) >= expected, 60_000, 500).catch(() => {
          ctx.log(`  presence keys ${online}/${expected} after 60 s`);
        });
      } finally {
        redis.disconnect();
      }
    });
  } finally {
    usage = bs.sampler.stop();
    await bs.stop();
  }
  const tag = `agents-100k ${n} (${apis} APIs)`;
  const split = `${sims} simulators × ≤ ${Math.ceil(n / sims)} sockets, ${IN_FLIGHT} handshakes in flight each over ≥ ${MIN_ADDRESSES_PER_SIM} source addresses; heartbeat ${heartbeatMs} ms; RLIMIT_NOFILE ${p.nofile}`;
  const noBaseline = baselineError ? `; no baseline: ${baselineError}` : '';
  const perApi = `RSS per API after: ${measured.rssAfterMiB.map((m) => Math.round(m)).join(' / ')} MiB`;
  const nan = Number.NaN;
  return [
    makeRow({ scenario: `${tag}: time until all online`, measured: measured.onlineMs / 1000, baseline: baseline ? baseline.onlineMs / 1000 : nan, unit: 's', goal: atMostRatio(2), notes: `go → last welcome over all simulators; servers' CPU per connection meanwhile ${measured.connectCpuMs.toFixed(2)} ms${baseline ? ` (bare: ${baseline.connectCpuMs.toFixed(2)} ms)` : ''}; ${split}; baseline: plain WebSocket connects to ${apis} bare ws servers${noBaseline}` }),
    makeRow({ scenario: `${tag}: RSS per connection, Σ ${apis} APIs`, measured: measured.rssPerConnKiB, baseline: baseline?.rssPerConnKiB ?? nan, unit: 'KiB', goal: atMostRatio(3), notes: `${perApi}; baseline: ${apis} bare ws servers${baseline ? ` (after: ${baseline.rssAfterMiB.map((m) => Math.round(m)).join(' / ')} MiB)` : noBaseline}`, usage: { ...usage, ...bareUsage } }),
    makeRow({ scenario: `${tag}: idle CPU, Σ ${apis} APIs`, measured: measured.idleCpuPct, baseline: baseline?.idleCpuPct ?? nan, unit: '% core', goal: reportOnly, notes: `the ${apis} APIs' CPU over ${idleMs / 1000} s of heartbeats (${Math.round(n / (heartbeatMs / 1000))} heartbeats + pings/s); baseline holds silent sockets${noBaseline}` }),
    makeRow({ scenario: `${tag}: failed connections`, measured: measured.failures, baseline: baseline?.failures ?? nan, unit: 'agents', goal: atMost(0, 'agents'), notes: `presence keys ${online}/${n}${measured.firstFailure ? `; first failure: ${measured.firstFailure}` : ''}` }),
  ];
}

/**
 * N connections from `sims` simulator processes, simulator k to server k mod servers, each on its own
 * source addresses; all start at one go (a file they wait for). RSS and CPU are summed over the
 * servers `labels` (tracked by `sampler`).
 */
async function holdSplit(
  ctx: ScenarioContext,
  sampler: ProcessSampler,
  labels: string[],
  urls: string[],
  o: { mode: 'agents' | 'bare'; n: number; sims: number; deadlineMs: number; idleMs: number; phase: string; tokens?: string[] },
  check?: (expectedOnline: number) => Promise<void>,
): Promise<Held> {
  const sum = (f: (label: string) => number) => labels.reduce((s, l) => s + f(l), 0);
  const rssBefore = sum((l) => sampler.rssMiB(l));
  const goFile = join(ctx.tmpDir, `agents-100k-go-${o.phase}-${process.hrtime.bigint()}`);
  // A fresh 127.a.b.0/24 per simulator and phase (a, b at random): no TIME_WAIT of an earlier phase or run holds its ports.
  const a = 1 + randomInt(254);
  const b = randomInt(256 - o.sims);
  const procs: LoadProcess[] = [];
  try {
    let start = 0;
    for (let k = 0; k < o.sims; k++) {
      const share = Math.floor(o.n / o.sims) + (k < o.n % o.sims ? 1 : 0);
      const addressCount = Math.min(254, Math.max(1, Math.min(share, MIN_ADDRESSES_PER_SIM), Math.ceil(share / PER_ADDRESS_MAX)));
      const localAddresses = Array.from({ length: addressCount }, (_, j) => `127.${a}.${b + k}.${j + 1}`);
      let tokensFile: string | undefined;
      if (o.tokens) {
        tokensFile = join(ctx.tmpDir, `agents-100k-tokens-${k}`);
        writeFileSync(tokensFile, o.tokens.slice(start, start + share).join('\n'));
      }
      start += share;
      const args = { mode: o.mode, url: urls[k % urls.length]!, n: share, inFlight: IN_FLIGHT, deadlineMs: o.deadlineMs, localAddresses, goFile, ...(tokensFile ? { tokensFile } : {}) };
      const sim = new LoadProcess('load/agent-sim', args, { timeoutMs: o.deadlineMs + 10_000 });
      procs.push(sim);
      sampler.track(`${o.phase}-sim${k + 1}`, sim.pid);
    }
    await Promise.all(procs.map((s) => s.waitFor('ready')));
    const cpuGo = sum((l) => sampler.cpuSeconds(l));
    writeFileSync(goFile, 'go\n');
    const tGo = preciseNow();
    const progress = setInterval(() => {
      const got = procs.map((s) => s.last<{ welcomed: number; failures: number }>('progress'));
      const welcomed = got.reduce((s, g) => s + (g?.welcomed ?? 0), 0);
      const failed = got.reduce((s, g) => s + (g?.failures ?? 0), 0);
      ctx.log(`  ${o.phase}: ${welcomed}/${o.n} online, ${failed} failed, ${((preciseNow() - tGo) / 1000).toFixed(0)} s; servers ${Math.round(sum((l) => sampler.rssMiB(l)))} MiB`);
    }, 10_000);
    let results: { at: number; failures: number; firstFailure?: string }[];
    try {
      results = await Promise.all(procs.map((s) => s.waitFor<{ at: number; failures: number; firstFailure?: string }>('online')));
    } finally {
      clearInterval(progress);
    }
    const connectCpuMs = ((sum((l) => sampler.cpuSeconds(l)) - cpuGo) * 1000) / o.n;
    const onlineMs = Math.max(...results.map((r) => r.at)) - tGo;
    const failures = results.reduce((s, r) => s + r.failures, 0);
    const firstFailure = results.find((r) => r.firstFailure)?.firstFailure;
    ctx.log(`  ${o.phase}: all ${o.n - failures}/${o.n} online in ${(onlineMs / 1000).toFixed(1)} s (${failures} failed)`);
    await check?.(o.n - failures);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const rssAfterMiB = labels.map((l) => sampler.rssMiB(l));
    const cpu0 = sum((l) => sampler.cpuSeconds(l));
    await new Promise((r) => setTimeout(r, o.idleMs));
    const cpu1 = sum((l) => sampler.cpuSeconds(l));
    const rssAfter = rssAfterMiB.reduce((s, v) => s + v, 0);
    return { onlineMs, rssPerConnKiB: ((rssAfter - rssBefore) * 1024) / o.n, idleCpuPct: ((cpu1 - cpu0) / (o.idleMs / 1000)) * 100, failures, firstFailure, rssAfterMiB, connectCpuMs };
  } finally {
    // Simulators first: their sockets close from the client side, so the servers stop with none left to drain.
    await Promise.all(procs.map((s) => s.stop()));
  }
}

/**
 * Raises this process's RLIMIT_NOFILE (soft and hard) towards `want`, so that every process
 * started afterwards (APIs, simulators, bare servers) inherits it; returns the limit they get and
 * how to put this process's back. Without CAP_SYS_RESOURCE the hard limit cannot go up: then the
 * soft one goes to the hard one, which is all there is. (Node raises its soft limit to the hard
 * one at start anyway.)
 */
function raiseOwnNofile(want: number): { nofile: number; restore: () => void } {
  const pid = String(process.pid);
  const read = () => execFileSync('prlimit', ['--pid', pid, '--nofile', '--output', 'SOFT,HARD', '--noheadings', '--raw']).toString().trim().split(/\s+/);
  const [soft, hard] = read() as [string, string];
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
  const target = Math.min(want, nrOpen);
  const set = (limits: string) => execFileSync('prlimit', ['--pid', pid, `--nofile=${limits}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (hard === 'unlimited' || Number(hard) >= target) set(`${target}:${hard}`);
  else {
    try {
      set(`${target}:${target}`);
    } catch {
      set(`${hard}:${hard}`); // EPERM: no CAP_SYS_RESOURCE (a container's root, often)
    }
  }
  const now = read()[0]!;
  return {
    nofile: now === 'unlimited' ? nrOpen : Number(now),
    restore: () => {
      try {
        set(`${soft}:${hard}`);
      } catch {
        // Only this bench process's own limit stays higher; nothing it started depends on it.
      }
    },
  };
}

/** The soft open-files limit of a process, from /proc/<pid>/limits. */
function openFilesLimit(pid: number): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** k APIs take k × their pool from Postgres: say so up front rather than as failed handshakes later. */
async function checkPostgresRoom(apis: number): Promise<void> {
  const url = process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ max: number; used: number }[]>`select current_setting('max_connections')::int as max, (select count(*)::int from pg_stat_activity) as used`;
    const need = apis * API_DB_POOL + 5;
    if (row && row.max - row.used < need) throw new Error(`Postgres has ${row.max - row.used} connections free (max_connections ${row.max}, ${row.used} in use); ${apis} APIs need ${need}`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}
