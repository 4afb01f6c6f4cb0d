import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { AGENT_FLEET_SCRIPT, followJob, processesMatching, TcpProxy, TestSystem, uniqueSleepArg, waitFor, type ServiceProcess } from '@vmo/testkit';
import {
  expectByteIdentical,
  expectDenseOutput,
  killLeftovers,
  MiB,
  openSql,
  peakRssMiB,
  startSystemBehindPostgresProxy,
  Scratch,
  streamingCommand,
  waitForNoProcess,
  waitForOutputFile,
} from './fault-kit.ts';

/**
 * Issue 3, "Agent and network" (cases 1–6): real API, worker and agent processes; connections
 * really cut by a TCP proxy between the agent and the API (or the API and Postgres), processes
 * really killed with -9. PROTOCOL.md §3 (acks, bounded buffer), §4 (cancel), §6 (resume, fencing).
 */

const port = (url: string) => Number(new URL(url).port);

describe('agent network faults, grace longer than the outages (cases 1, 4, 5)', () => {
  let system: TestSystem;
  let proxy: TcpProxy;
  let agent: { id: string; token: string; process: ServiceProcess };
  let sql: ReturnType<typeof openSql>;
  const scratch = new Scratch();
  const marker = uniqueSleepArg();

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'faults_agent', apis: 2, env: { VMO_AGENT_GRACE_MS: '60000' } });
    proxy = await TcpProxy.start(port(system.apiUrls[0]!));
    agent = await system.startAgent('via-proxy', { servers: [proxy.url] });
    sql = openSql(system.databaseUrl);
  });
  afterAll(async () => {
    await killLeftovers(marker);
    await sql?.end();
    await system?.stop();
    await proxy?.close();
    scratch.cleanup();
  });

  it('§6 case 1: a 10 s cut mid-job: the job keeps running, the log is byte-identical, no chunk twice, one run, a subscriber sees every byte once in order', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const job = await client.submit({ command: streamingCommand(scratch, 'c1'), target: { type: 'agent', agent: 'via-proxy' } });
    // The subscriber is on the API directly: it stays connected through the agent's cut.
    const followed = followJob(system.apiUrls[0]!, system.token, job.id);
    const before = await waitForOutputFile(scratch, 'c1', 20_000);

    proxy.cut();
    await system.waitForAgentStatus(agent.id, 'offline');
    const cutAt = Date.now();
    // The job keeps running (and writing) on the agent while it is cut off.
    await waitForOutputFile(scratch, 'c1', before + 200_000);
    await waitFor('a 10 s outage', () => Date.now() - cutAt >= 10_000, 20_000, 100);
    expect(proxy.refused).toBeGreaterThan(0); // the agent kept trying, and was refused
    expect((await client.job(job.id)).status).toBe('running');
    proxy.restore();

    await system.waitForAgentStatus(agent.id, 'online', 60_000);
    const resumed = scratch.size('c1.out');
    await waitForOutputFile(scratch, 'c1', resumed + 50_000);
    scratch.raise('c1.stop');

    const ended = await client.waitForEnd(job.id, 60_000);
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0, attempt: 1 });
    const reference = scratch.read('c1.out');
    await expectByteIdentical(client, job.id, reference);
    await expectDenseOutput(sql, job.id);
    expect(scratch.lines('c1.runs')).toEqual([job.id]); // never started a second time

    const sub = await followed;
    expect(sub.end?.status).toBe('succeeded');
    expect(sub.seqs).toEqual(sub.seqs.map((_, i) => i)); // every chunk once, in order
    expect(sub.stdout.equals(reference)).toBe(true);
  }, 180_000);

  it('§4 §6 case 4: a cancel sent while the agent is disconnected is delivered when it reconnects; the job ends canceled', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const job = await client.submit({ command: `sleep ${marker}`, target: { type: 'agent', agent: 'via-proxy' } });
    await waitFor('the agent to start the job', async () => (await processesMatching(`sleep ${marker}`)).length > 0 || undefined, 30_000, 50);

    proxy.cut();
    await system.waitForAgentStatus(agent.id, 'offline');
    expect((await client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 500 })).status).toBe(202);
    expect((await client.job(job.id)).status).toBe('running'); // nobody could deliver it yet
    expect((await processesMatching(`sleep ${marker}`)).length).toBeGreaterThan(0); // still running out there
    proxy.restore();

    const ended = await client.waitForEnd(job.id, 60_000);
    expect(ended.status).toBe('canceled');
    await waitForNoProcess(`sleep ${marker}`);
  }, 180_000);

  it('§6 §7 case 5: the API node holding the agent is killed -9: the agent reconnects to the next --server URL, resumes, and its jobs finish normally; 200 in-process agents reconnecting at once do not overwhelm the API', async () => {
    onTestFailed(() => console.log(system.logs()));
    const [api1, api2] = system.apis as [ServiceProcess, ServiceProcess];
    const client2 = system.clientFor(1);
    const twoServers = await system.startAgent('two-servers', { servers: [system.apiUrls[0]!, system.apiUrls[1]!] });

    // A fleet of 200 real agents (the agent's code, one process) on API node 1 too.
    const FLEET = 200;
    const tokens: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < FLEET; i++) {
      const res = await system.client.request('POST', '/v1/agents', { name: `fleet-${i}` });
      expect(res.status).toBe(201);
      tokens.push(res.body.token);
      ids.push(res.body.id);
    }
    const fleet = spawn(process.execPath, ['--import', 'tsx', AGENT_FLEET_SCRIPT], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, FLEET_SERVERS: `${system.apiUrls[0]},${system.apiUrls[1]}` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let fleetLog = '';
    fleet.stderr!.on('data', (d: Buffer) => (fleetLog += d.toString()));
    // Distinct agents that have connected to `url` (an agent starved past two heartbeats on this
    // busy machine may reconnect once more: counting lines would count it twice).
    const connectsTo = (url: string) =>
      new Set(
        fleetLog
          .split('\n')
          .filter((l) => l.includes('"msg":"connected"') && l.includes(`:${new URL(url).port}/`))
          .map((l) => /"agentId":"([^"]+)"/.exec(l)?.[1]),
      ).size;
    const fleetExited = new Promise((r) => fleet.once('exit', r));
    try {
      fleet.stdin!.end(tokens.join('\n') + '\n');
      const onlineCount = async (c: typeof client2) => {
        const res = await c.request('GET', '/v1/agents?limit=500');
        return res.status === 200 ? res.body.items.filter((a: { name: string; status: string }) => a.name.startsWith('fleet-') && a.status === 'online').length : -1;
      };
      await waitFor(`${FLEET} fleet agents online`, async () => (await onlineCount(system.client)) === FLEET || undefined, 120_000, 500);
      expect(connectsTo(system.apiUrls[0]!)).toBe(FLEET); // all of them on the node about to die

      const jobs = await Promise.all(
        [0, 1].map((i) => system.client.submit({ command: streamingCommand(scratch, `c5-${i}`, { bytesPerTick: 3000 }), target: { type: 'agent', agent: 'two-servers' } })),
      );
      for (let i = 0; i < 2; i++) await waitForOutputFile(scratch, `c5-${i}`, 30_000);

      await api1.kill();
      // The survivor answers while 201 agents reconnect to it (with jitter, not in lockstep).
      await waitFor('the API node 2 to answer during the reconnect storm', async () => (await client2.request('GET', '/health')).status < 500 || undefined, 30_000, 200);
      // Presence keys outlive a killed node by up to two heartbeats: count reconnections instead.
      await waitFor(`all ${FLEET} fleet agents reconnected to API node 2`, () => connectsTo(system.apiUrls[1]!) === FLEET || undefined, 120_000, 200);
      await waitFor(`all ${FLEET} fleet agents online`, async () => (await onlineCount(client2)) === FLEET || undefined, 60_000, 500);
      await waitFor('the two-servers agent back online', async () => (await client2.request('GET', `/v1/agents/${twoServers.id}`)).body.status === 'online' || undefined, 60_000, 200);

      for (let i = 0; i < 2; i++) {
        const grown = scratch.size(`c5-${i}.out`);
        await waitForOutputFile(scratch, `c5-${i}`, grown + 30_000);
        scratch.raise(`c5-${i}.stop`);
      }
      for (let i = 0; i < 2; i++) {
        const ended = await client2.waitForEnd(jobs[i]!.id, 60_000);
        expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0, attempt: 1 });
        await expectByteIdentical(client2, jobs[i]!.id, scratch.read(`c5-${i}.out`));
        await expectDenseOutput(sql, jobs[i]!.id);
        expect(scratch.lines(`c5-${i}.runs`)).toEqual([jobs[i]!.id]);
      }
      // It was on API node 1, tried it again after the kill, then moved on to node 2…
      const connects = [...twoServers.process.output.matchAll(/"msg":"connected".*?"url":"([^"]+)"/g)].map((m) => new URL(m[1]!).port);
      expect(connects[0]).toBe(new URL(system.apiUrls[0]!).port);
      expect(connects.at(-1)).toBe(new URL(system.apiUrls[1]!).port);
      expect(twoServers.process.output).toMatch(/could not connect/);
      // …and a job dispatched to a fleet agent through the surviving node runs.
      const onFleet = await client2.submit({ command: 'echo fleet-ok', target: { type: 'agent', agent: 'fleet-7' } });
      expect((await client2.waitForEnd(onFleet.id, 60_000)).status).toBe('succeeded');
      console.log(`[case 5] API node 2 peak RSS after ${FLEET + 1} agents reconnected: ${peakRssMiB(api2.pid)} MiB`);
    } finally {
      fleet.kill('SIGKILL');
      await fleetExited;
    }
  }, 180_000);
});

describe('agent network faults, short grace (cases 2, 3)', () => {
  const GRACE_MS = 8000;
  let system: TestSystem;
  let proxy: TcpProxy;
  let sql: ReturnType<typeof openSql>;
  const scratch = new Scratch();
  const marker = uniqueSleepArg(0); // "0.<random>": a short sleep, unique on this machine

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'faults_grace', env: { VMO_AGENT_GRACE_MS: String(GRACE_MS) } });
    proxy = await TcpProxy.start(port(system.apiUrls[0]!));
    sql = openSql(system.databaseUrl);
  });
  afterAll(async () => {
    await killLeftovers(marker);
    await sql?.end();
    await system?.stop();
    await proxy?.close();
    scratch.cleanup();
  });

  it('§6 case 2: a cut longer than the grace: the job ends lost; when the agent comes back it kills the orphaned process, and its late output and exit are refused', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('cut-long', { servers: [proxy.url] });
    const job = await client.submit({ command: streamingCommand(scratch, 'c2', { marker: `c2 ${marker}`, tickSeconds: marker }), target: { type: 'agent', agent: 'cut-long' } });
    await waitForOutputFile(scratch, 'c2', 10_000);

    proxy.cut();
    const lost = await client.waitForEnd(job.id, GRACE_MS + 60_000);
    expect(lost.status).toBe('lost');
    expect(lost.error).toEqual({ code: 'agent_lost', message: expect.stringContaining(String(GRACE_MS)) });
    expect(lost.exitCode).toBeNull();
    // Cut off, the agent does not know: its process still runs and writes.
    const atVerdict = scratch.size('c2.out');
    await waitForOutputFile(scratch, 'c2', atVerdict + 20_000);
    const storedAtVerdict = await client.logs(job.id);

    proxy.restore();
    await system.waitForAgentStatus(agent.id, 'online', 60_000);
    await waitForNoProcess(`c2 ${marker}`, 30_000); // welcome.abandon: the agent killed the process group
    await agent.process.waitForOutput(/job abandoned by the server: killing it/);

    // Fenced: what the orphan wrote meanwhile, and its exit, never reached the job.
    await waitFor('the agent to hold nothing', async () => (await client.request('GET', `/v1/agents/${agent.id}`)).body.runningJobs === 0 || undefined);
    const after = await client.job(job.id);
    expect(after).toMatchObject({ status: 'lost', exitCode: null, signal: null, finishedAt: lost.finishedAt });
    expect((await client.logs(job.id)).equals(storedAtVerdict)).toBe(true);
    await expectDenseOutput(sql, job.id);
    // What was stored is what the command wrote, up to where the cut stopped it.
    const stdout = await client.logs(job.id, '?stream=stdout');
    expect(stdout.length).toBeGreaterThan(0);
    expect(scratch.read('c2.out').subarray(0, stdout.length).equals(stdout)).toBe(true);
    await agent.process.stop();
  }, 180_000);

  it('§6 case 3: the agent is killed -9 while running jobs: lost at once when it comes back without them, after the grace when it does not; stored output is kept', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    // (a) It comes back (a new process, same token) without its jobs: lost at once.
    const back = await system.startAgent('comes-back');
    const a = await client.submit({ command: streamingCommand(scratch, 'c3a'), target: { type: 'agent', agent: 'comes-back' } });
    await waitForOutputFile(scratch, 'c3a', 20_000);
    await waitFor('the job to be confirmed started', async () => (await client.job(a.id)).outputBytes > 0 || undefined);
    await back.process.kill();
    const restarted = system.spawnAgent(back.token);
    const endA = await client.waitForEnd(a.id, 60_000);
    expect(endA.status).toBe('lost');
    expect(endA.error?.code).toBe('agent_restarted');
    await restarted.waitForOutput(/connected/);

    // (b) It does not come back: lost after the grace.
    const gone = await system.startAgent('stays-dead');
    const b = await client.submit({ command: streamingCommand(scratch, 'c3b'), target: { type: 'agent', agent: 'stays-dead' } });
    await waitForOutputFile(scratch, 'c3b', 20_000);
    await waitFor('output stored', async () => (await client.job(b.id)).outputBytes > 10_000 || undefined);
    await gone.process.kill();
    const endB = await client.waitForEnd(b.id, GRACE_MS + 60_000);
    expect(endB.status).toBe('lost');
    expect(endB.error?.code).toBe('agent_lost');

    for (const [job, name] of [[a, 'c3a'], [b, 'c3b']] as const) {
      // The output stored up to the kill is kept, and is exactly what the command wrote.
      const stdout = await client.logs(job.id, '?stream=stdout');
      expect(stdout.length).toBeGreaterThan(0);
      expect(scratch.read(`${name}.out`).subarray(0, stdout.length).equals(stdout)).toBe(true);
      await expectDenseOutput(sql, job.id);
      scratch.raise(`${name}.stop`); // the orphans die of SIGPIPE anyway; make sure
    }
    await restarted.stop();
  }, 180_000);
});

describe('agent backpressure (case 6)', () => {
  const BUFFER = 512 * 1024;
  let system: TestSystem;
  let pgProxy: TcpProxy;
  let sql: ReturnType<typeof openSql>;
  let proxied: Awaited<ReturnType<typeof startSystemBehindPostgresProxy>>;
  const scratch = new Scratch();

  beforeAll(async () => {
    proxied = await startSystemBehindPostgresProxy('faults_bp', { VMO_AGENT_GRACE_MS: '60000', VMO_MAX_OUTPUT_BYTES: String(512 * MiB) });
    ({ pgProxy, system, sql } = proxied);
  });
  afterAll(async () => {
    await proxied?.stop();
    scratch.cleanup();
  });

  it('§3 case 6: output not acknowledged (Postgres stalled): the agent stops reading the pipes at its bound, the command blocks on write, then resumes; nothing is lost', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('bounded', { env: { VMO_AGENT_BUFFER_BYTES: String(BUFFER) } });
    const job = await client.submit({ command: streamingCommand(scratch, 'c6', { bytesPerTick: 65536, tickSeconds: '0' }), target: { type: 'agent', agent: 'bounded' } });
    await waitForOutputFile(scratch, 'c6', 2 * MiB);

    pgProxy.stall();
    const atStall = scratch.size('c6.out');
    // The command blocks on write: its output stops growing while it is still alive.
    let last = -1;
    let still = 0;
    const plateau = await waitFor('the command to block on write', () => {
      const n = scratch.size('c6.out');
      still = n === last ? still + 1 : 0;
      last = n;
      return still >= 10 ? n : undefined;
    }, 60_000, 200);
    // The bound, plus what was on its way before the pause took effect: the API's socket and
    // sink, the pipes between head, tee and the agent (64 KiB each) and one read per stream.
    const slack = 2 * MiB;
    console.log(`[case 6] written while stalled: ${plateau - atStall} bytes (agent buffer ${BUFFER}); agent peak RSS ${peakRssMiB(agent.process.pid)} MiB`);
    expect(plateau - atStall).toBeLessThan(BUFFER + slack);
    expect((await processesMatching(scratch.path('c6.out'))).length).toBeGreaterThan(0); // alive, blocked

    pgProxy.restore();
    await waitForOutputFile(scratch, 'c6', plateau + 4 * MiB, 60_000); // resumed
    scratch.raise('c6.stop');
    const ended = await client.waitForEnd(job.id, 120_000);
    expect(ended).toMatchObject({ status: 'succeeded', outputTruncated: false });
    await expectByteIdentical(client, job.id, scratch.read('c6.out'));
    await expectDenseOutput(sql, job.id);
    await agent.process.stop();
  }, 180_000);
});
