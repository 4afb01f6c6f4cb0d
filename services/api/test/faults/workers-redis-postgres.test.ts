import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { existsSync } from 'node:fs';
import { followJob, processesMatching, RedisServer, TcpProxy, TestSystem, uniqueSleepArg, waitFor, type ServiceProcess } from '@vmo/testkit';
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
  subscribe,
  waitForNoProcess,
  waitForOutputFile,
} from './fault-kit.ts';

/**
 * Issue 3, "Workers, Redis, Postgres" (cases 7–10): real processes killed with -9 or stopped
 * with SIGTERM, a Redis of the test's own killed and restarted empty, Postgres cut by a proxy.
 */

/** Short liveness timings so the bounds are seconds, not minutes (defaults: 15 s, 5 s, 30 s). */
const FAST_WORKER_ENV = { VMO_WORKER_PRESENCE_TTL_MS: '1500', VMO_MAINTENANCE_MS: '500', VMO_WORKER_LOCK_MS: '4000' };

const isTerminal = (status: string) => ['succeeded', 'failed', 'canceled', 'timed_out', 'lost'].includes(status);

describe('a worker killed -9 with 50 active jobs (case 7)', () => {
  let system: TestSystem;
  const scratch = new Scratch();
  const marker = uniqueSleepArg();

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'faults_worker', workers: 0, env: { ...FAST_WORKER_ENV, VMO_WORKER_CONCURRENCY: '64', VMO_AGENT_GRACE_MS: '60000' } });
  });
  afterAll(async () => {
    await killLeftovers(marker);
    await system?.stop();
    scratch.cleanup();
  });

  it('case 7: agent jobs are re-attached by another worker without starting again; local jobs end lost with their processes killed; none stays running', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    await system.startAgent('w7');
    const doomed = await system.startWorker();
    const agentJobs: { id: string }[] = [];
    const localJobs: { id: string }[] = [];
    for (let i = 0; i < 25; i++) {
      const runs = scratch.path(`a${i}.runs`);
      agentJobs.push(
        await client.submit({
          command: `echo "$VMO_JOB_ID" >> '${runs}'; while [ ! -e '${scratch.path('release')}' ]; do sleep 0.1; done; echo done-${i}`,
          target: { type: 'agent', agent: 'w7' },
        }),
      );
      localJobs.push(await client.submit({ command: `sleep ${marker}`, target: { type: 'local' } }));
    }
    await waitFor('50 jobs running', async () => {
      const res = await client.request('GET', '/v1/jobs?status=running&limit=100');
      return res.body.items.length === 50 || undefined;
    }, 60_000, 200);
    await waitFor('every agent job started on the agent', () => agentJobs.every((_, i) => scratch.lines(`a${i}.runs`).length === 1) || undefined, 60_000, 100);
    expect((await processesMatching(`sleep ${marker}`)).length).toBeGreaterThanOrEqual(25);

    const survivor = await system.startWorker();
    await doomed.kill();
    const killedAt = Date.now();

    // Local jobs died with their worker: lost, and their orphaned processes are killed.
    for (const job of localJobs) {
      const ended = await client.waitForEnd(job.id, 90_000);
      expect(ended.status).toBe('lost');
      expect(ended.error?.code).toBe('worker_lost');
    }
    const lostWithinMs = Date.now() - killedAt;
    await waitForNoProcess(`sleep ${marker}`);

    // Agent jobs carry on on the agent; the survivor takes them over from BullMQ and re-attaches.
    await survivor.waitForOutput(/re-attaching to a running agent job/, 60_000);
    scratch.raise('release');
    for (const [i, job] of agentJobs.entries()) {
      const ended = await client.waitForEnd(job.id, 60_000);
      expect(ended).toMatchObject({ status: 'succeeded', attempt: 1 });
      expect((await client.logs(job.id, '?stream=stdout')).toString()).toBe(`done-${i}\n`);
      expect(scratch.lines(`a${i}.runs`)).toEqual([job.id]); // started exactly once
    }
    const running = await client.request('GET', '/v1/jobs?status=running&limit=100');
    expect(running.body.items).toEqual([]);
    console.log(`[case 7] local jobs of the killed worker all lost ${lostWithinMs} ms after the kill (presence TTL 1.5 s, sweep every 0.5 s)`);
  }, 240_000);
});

describe('Redis restarts empty (case 8)', () => {
  let redis: RedisServer;
  let system: TestSystem;
  const scratch = new Scratch();

  beforeAll(async () => {
    redis = await RedisServer.start();
    system = await TestSystem.start({
      label: 'faults_redis',
      env: { ...FAST_WORKER_ENV, VMO_REDIS_URL: redis.url, VMO_WORKER_CONCURRENCY: '2', VMO_AGENT_GRACE_MS: '60000' },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await redis?.stop();
    scratch.cleanup();
  });

  it('case 8: queued jobs are re-enqueued by the reconciler and run once, running ones finish, a job submitted while Redis is down runs once it is back; none is stuck', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    await system.startAgent('r8');
    const once = (name: string, tail = '') => `echo "$VMO_JOB_ID" >> '${scratch.path(`${name}.runs`)}'; ${tail}`;
    const gate = `while [ ! -e '${scratch.path('release')}' ]; do sleep 0.1; done`;
    // Two running (the worker's two slots: one local, one agent), three queued behind them.
    const runningLocal = await client.submit({ command: once('run-local', `${gate}; echo local-done`), target: { type: 'local' } });
    const runningAgent = await client.submit({ command: once('run-agent', `${gate}; echo agent-done`), target: { type: 'agent', agent: 'r8' } });
    await client.waitForStatus(runningLocal.id, 'running');
    await client.waitForStatus(runningAgent.id, 'running');
    const queued: { id: string }[] = [];
    for (let i = 0; i < 3; i++) queued.push(await client.submit({ command: once(`q${i}`, `echo q${i}`), target: { type: i === 1 ? 'agent' : 'local', ...(i === 1 ? { agent: 'r8' } : {}) } as never }));
    for (const job of queued) expect((await client.job(job.id)).status).toBe('queued');

    await redis.kill();
    // Accepted while Redis is down: it is in Postgres.
    const whileDown = await client.request('POST', '/v1/jobs', { command: once('down', 'echo accepted-while-down'), target: { type: 'local' } });
    expect(whileDown.status).toBe(201);
    await redis.launch(); // empty: no queue, no presence, no locks

    await system.workers[0]!.waitForOutput(/reconciler re-enqueued queued jobs unknown to BullMQ/, 60_000);
    scratch.raise('release');
    const all = [runningLocal, runningAgent, ...queued, whileDown.body];
    for (const job of all) {
      const ended = await client.waitForEnd(job.id, 90_000);
      expect(isTerminal(ended.status)).toBe(true);
    }
    // The queued ones and the one accepted while Redis was down ran, each exactly once.
    for (const [i, job] of queued.entries()) {
      expect((await client.job(job.id)).status).toBe('succeeded');
      expect((await client.logs(job.id, '?stream=stdout')).toString()).toBe(`q${i}\n`);
      expect(scratch.lines(`q${i}.runs`)).toEqual([job.id]);
    }
    expect((await client.job(whileDown.body.id)).status).toBe('succeeded');
    expect(scratch.lines('down.runs')).toEqual([whileDown.body.id]);
    // The running ones finished (or, had their holder gone, ended lost): never started twice.
    for (const [name, job] of [['run-local', runningLocal], ['run-agent', runningAgent]] as const) {
      expect(['succeeded', 'lost']).toContain((await client.job(job.id)).status);
      expect(scratch.lines(`${name}.runs`)).toEqual([job.id]);
    }
    expect((await client.job(runningAgent.id)).status).toBe('succeeded');
  }, 240_000);
});

describe('Postgres unreachable for 30 s while jobs stream output (case 9)', () => {
  let pgProxy: TcpProxy;
  let system: TestSystem;
  let sql: ReturnType<typeof openSql>;
  let proxied: Awaited<ReturnType<typeof startSystemBehindPostgresProxy>>;
  const scratch = new Scratch();

  beforeAll(async () => {
    proxied = await startSystemBehindPostgresProxy('faults_pg', { ...FAST_WORKER_ENV, VMO_AGENT_GRACE_MS: '120000', VMO_MAX_OUTPUT_BYTES: String(256 * MiB) });
    ({ pgProxy, system, sql } = proxied);
  });
  afterAll(async () => {
    await proxied?.stop();
    scratch.cleanup();
  });

  it('case 9: producers block, memory stays bounded, submissions get 503 quickly, and after it returns every log is byte-identical', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('pg9', { env: { VMO_AGENT_BUFFER_BYTES: String(1 * MiB) } });
    const fast = { bytesPerTick: 32768, tickSeconds: '0.005' };
    const jobs = {
      local: await client.submit({ command: streamingCommand(scratch, 'local', fast), target: { type: 'local' } }),
      agent: await client.submit({ command: streamingCommand(scratch, 'agent', fast), target: { type: 'agent', agent: 'pg9' } }),
      // Ends during the outage: its end must be recorded once Postgres is back.
      short: await client.submit({ command: `${streamingCommand(scratch, 'short', fast)}`, target: { type: 'local' } }),
    };
    for (const name of Object.keys(jobs)) await waitForOutputFile(scratch, name, 1 * MiB);
    // Resumes with ?after= when closed 1012 (its stream could not read Postgres); a 4008 (cut as too
    // slow) would be a bug here and fails the test below.
    const subscriber = subscribe(system.apiUrls[0]!, system.token, jobs.agent.id, undefined, { resume: true });
    await subscriber.opened;

    pgProxy.cut();
    const cutAt = Date.now();
    const sizesAtCut = Object.fromEntries(Object.keys(jobs).map((n) => [n, scratch.size(`${n}.out`)]));
    scratch.raise('short.stop');

    // Submissions fail fast with 503 (no hanging request) while Postgres is away.
    const started = Date.now();
    const refused = await client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } });
    const answeredInMs = Date.now() - started;
    console.log(`[case 9] POST while Postgres is cut: ${refused.status} in ${answeredInMs} ms`);
    expect(refused.status, refused.text).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');

    // Producers block: output stops growing (bounded by the pumps' and the agent's buffers).
    const plateaus: Record<string, number> = {};
    for (const name of ['local', 'agent']) {
      let last = -1;
      let still = 0;
      plateaus[name] = await waitFor(`${name} to block`, () => {
        const n = scratch.size(`${name}.out`);
        still = n === last ? still + 1 : 0;
        last = n;
        return still >= 10 ? n : undefined;
      }, 30_000, 200);
    }
    await waitFor('a 30 s outage', () => Date.now() - cutAt >= 30_000, 40_000, 200);
    const [api] = system.apis as [ServiceProcess];
    const [worker] = system.workers as [ServiceProcess];
    const rss = { api: peakRssMiB(api.pid), worker: peakRssMiB(worker.pid), agent: peakRssMiB(agent.process.pid) };
    console.log(
      `[case 9] 503 in ${answeredInMs} ms; written while cut: local ${plateaus.local! - sizesAtCut.local!} B, agent ${plateaus.agent! - sizesAtCut.agent!} B; peak RSS MiB ${JSON.stringify(rss)}`,
    );
    // Local jobs: the pump's high-water mark (4 MiB) plus pipes; agent: its 1 MiB buffer plus what the API holds.
    expect(plateaus.local! - sizesAtCut.local!).toBeLessThan(8 * MiB);
    expect(plateaus.agent! - sizesAtCut.agent!).toBeLessThan(4 * MiB);
    for (const mib of Object.values(rss)) expect(mib).toBeLessThan(400);
    expect(refused.status).toBe(503);

    pgProxy.restore();
    for (const name of ['local', 'agent']) {
      await waitForOutputFile(scratch, name, plateaus[name]! + 1 * MiB, 60_000);
      scratch.raise(`${name}.stop`);
    }
    for (const [name, job] of Object.entries(jobs)) {
      const ended = await client.waitForEnd(job.id, 120_000);
      expect(ended, name).toMatchObject({ status: 'succeeded', outputTruncated: false });
      await expectByteIdentical(client, job.id, scratch.read(`${name}.out`));
      await expectDenseOutput(sql, job.id);
      expect(scratch.lines(`${name}.runs`)).toEqual([job.id]);
    }
    // Across its reconnections, the subscriber got every byte once, in order, and the end.
    const sub = await subscriber.result;
    console.log(`[case 9] subscriber resumed after closes ${JSON.stringify(sub.interruptions)}`);
    expect(sub.interruptions!.every((code) => code === 1012), `closes: ${sub.interruptions}`).toBe(true);
    expect(sub.end?.status).toBe('succeeded');
    expect(sub.seqs).toEqual(sub.seqs.map((_, i) => i));
    expect(sub.stdout.equals(scratch.read('agent.out'))).toBe(true);
  }, 240_000);
});

describe('SIGTERM drains (case 10)', () => {
  let system: TestSystem;
  const scratch = new Scratch();
  const marker = uniqueSleepArg();

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'faults_drain', apis: 2, workers: 0, env: { ...FAST_WORKER_ENV, VMO_DRAIN_MS: '3000', VMO_AGENT_GRACE_MS: '60000' } });
  });
  afterAll(async () => {
    await killLeftovers(marker);
    await system?.stop();
    scratch.cleanup();
  });

  it('case 10a: a worker on SIGTERM takes no new job, lets running local jobs finish up to the drain timeout, then cancels the rest', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const worker = await system.startWorker();
    const quick = await client.submit({ command: `while [ ! -e '${scratch.path('quick')}' ]; do sleep 0.05; done; echo finished`, target: { type: 'local' } });
    const slow = await client.submit({ command: `sleep ${marker}`, target: { type: 'local' } });
    await client.waitForStatus(quick.id, 'running');
    await client.waitForStatus(slow.id, 'running');

    const stopped = worker.stop();
    await worker.waitForOutput(/SIGTERM received/);
    const late = await client.submit({ command: 'echo late', target: { type: 'local' } });
    scratch.raise('quick');
    expect(await stopped).toEqual({ code: 0, signal: null });

    expect(await client.job(quick.id)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await client.logs(quick.id)).toString()).toBe('finished\n');
    expect((await client.job(slow.id)).status).toBe('canceled'); // past the drain timeout
    await waitForNoProcess(`sleep ${marker}`);
    expect((await client.job(late.id)).status).toBe('queued'); // never taken by the draining worker

    await system.startWorker();
    expect((await client.waitForEnd(late.id)).status).toBe('succeeded');
  });

  it('case 10b: an API node on SIGTERM closes agents and subscribers with 1012; both reconnect elsewhere and the job finishes normally', async () => {
    onTestFailed(() => console.log(system.logs()));
    const [api1] = system.apis as [ServiceProcess];
    const client2 = system.clientFor(1);
    const agent = await system.startAgent('d10', { servers: [system.apiUrls[0]!, system.apiUrls[1]!] });
    const job = await client2.submit({ command: streamingCommand(scratch, 'd10'), target: { type: 'agent', agent: 'd10' } });
    await waitForOutputFile(scratch, 'd10', 20_000);
    const subscriber = subscribe(system.apiUrls[0]!, system.token, job.id);
    await subscriber.opened;
    await waitForOutputFile(scratch, 'd10', 40_000);

    expect(await api1.stop()).toEqual({ code: 0, signal: null });
    const cut = await subscriber.result;
    expect(cut.closeCode).toBe(1012);
    await agent.process.waitForOutput(/"code":1012/);
    // (system.client talks to API node 1, which is gone: ask node 2.)
    await waitFor('the agent online on node 2', async () => (await client2.request('GET', `/v1/agents/${agent.id}`)).body.status === 'online' || undefined, 30_000, 100);
    const last = cut.seqs.at(-1) ?? -1;
    const rest = followJob(system.apiUrls[1]!, system.token, job.id, { after: last });
    scratch.raise('d10.stop');
    const ended = await client2.waitForEnd(job.id, 60_000);
    expect(ended).toMatchObject({ status: 'succeeded', attempt: 1 });
    const resumed = await rest;
    expect(resumed.seqs[0]).toBe(last + 1);
    expect(Buffer.concat([cut.stdout, resumed.stdout]).equals(scratch.read('d10.out'))).toBe(true);
    await expectByteIdentical(client2, job.id, scratch.read('d10.out'));

    // case 10c: the agent on SIGTERM finishes what it can within its drain, hands back the rest.
    const finishing = await client2.submit({
      command: `touch '${scratch.path('agent-quick.started')}'; while [ ! -e '${scratch.path('agent-quick')}' ]; do sleep 0.05; done; echo agent-finished`,
      target: { type: 'agent', agent: 'd10' },
    });
    // `running` only means a worker took it; the agent must have started it before it drains
    // (a draining agent takes no new run).
    await waitFor('the agent to start the command', () => existsSync(scratch.path('agent-quick.started')) || undefined, 30_000, 50);
    const stopping = agent.process.stop();
    await agent.process.waitForOutput(/draining/);
    scratch.raise('agent-quick');
    expect(await stopping).toEqual({ code: 0, signal: null });
    expect(await client2.waitForEnd(finishing.id)).toMatchObject({ status: 'succeeded' });
    expect((await client2.logs(finishing.id)).toString()).toBe('agent-finished\n');

    const running = await client2.request('GET', '/v1/jobs?status=running&limit=100');
    const queued = await client2.request('GET', '/v1/jobs?status=queued&limit=100');
    expect([...running.body.items, ...queued.body.items]).toEqual([]);
  }, 240_000);
});
