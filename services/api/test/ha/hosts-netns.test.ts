import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { NetnsHosts, TestSystem, uniqueSleepArg, waitFor, type NetnsHost } from '@vmo/testkit';
import { expectByteIdentical, killLeftovers, Scratch, streamingCommand, waitForNoProcess, waitForOutputFile } from '../faults/fault-kit.ts';

/**
 * Issue 19, "Hosts": the API and the worker in the root network namespace, real agents on two
 * other hosts (network namespaces, netns-hosts.ts) behind 50 ms of latency each way (a delaying
 * relay on each host's link: this kernel has no `tc netem`).
 * Jobs run on both with byte-identical output; then one host is partitioned (its link set down:
 * packets vanish, nothing is closed) for less than VMO_AGENT_GRACE_MS, and for more. Counts, not
 * timings: what the README's contract says happens, each job started once. Times are printed for
 * the README, never asserted.
 */

const GRACE_MS = 6_000;
const SHORT_CUT_MS = 3_000; // < grace
const LINES = 20;

/** Deterministic output with bytes that are not text (\001 \377): the same on every host. */
const fixedCommand = (runs: string, n: number) =>
  `echo "$VMO_JOB_ID" >> '${runs}'; i=0; while [ $i -lt ${LINES} ]; do printf 'host line %s \\001\\377 ${n}\\n' $i; sleep 0.05; i=$((i+1)); done`;
const fixedOutput = (n: number) =>
  Buffer.concat(Array.from({ length: LINES }, (_, i) => Buffer.concat([Buffer.from(`host line ${i} `), Buffer.from([1, 255]), Buffer.from(` ${n}\n`)])));

const until = (ms: number) => waitFor(`${ms} ms to pass`, () => Date.now() >= ms || undefined, ms - Date.now() + 10_000, 50);

describe('agents on two hosts behind 50 ms of latency; one partitioned for less and for more than the grace', () => {
  const hosts = new NetnsHosts();
  const scratch = new Scratch();
  const marker = uniqueSleepArg();
  let system: TestSystem;
  let a: { host: NetnsHost; id: string; name: string };
  let b: { host: NetnsHost; id: string; name: string };

  /** Where each host reaches the API: its link's gateway, through 50 ms each way. */
  const entry = new Map<NetnsHost, string>();
  const startAgent = async (host: NetnsHost, apiPort: number) => {
    const name = `host-${host.name}`;
    const res = await system.client.request('POST', '/v1/agents', { name });
    if (res.status !== 201) throw new Error(`agent registration failed: ${res.status} ${res.text}`);
    const { id, token } = res.body as { id: string; token: string };
    entry.set(host, `http://${host.gateway}:${await hosts.forward(host, apiPort, 50)}`);
    hosts.spawnAgent(host, token, [entry.get(host)!]);
    await system.waitForAgentStatus(id, 'online', 75_000);
    return { host, id, name };
  };
  /** One HTTP round trip to the API as a host's traffic goes (through its link's 50 ms each way). */
  const roundTripMs = async (host: NetnsHost) => {
    const began = performance.now();
    await (await fetch(`${entry.get(host)}/health/ready`)).arrayBuffer();
    return Math.round(performance.now() - began);
  };
  const starts = (id: string) => scratch.lines('runs').filter((l) => l === id).length + scratch.lines('c.runs').filter((l) => l === id).length;

  beforeAll(async () => {
    system = await TestSystem.start({
      label: 'ha_hosts',
      env: { VMO_AGENT_GRACE_MS: String(GRACE_MS), VMO_MAINTENANCE_MS: '500', VMO_WORKER_CONCURRENCY: '16' },
    });
    const port = Number(new URL(system.apiUrls[0]!).port);
    const hostA = hosts.addHost('a');
    const hostB = hosts.addHost('b');
    [a, b] = await Promise.all([startAgent(hostA, port), startAgent(hostB, port)]);
  }, 120_000);
  afterAll(async () => {
    hosts.stop(); // every namespace, veth and process in them, whatever the test left
    await killLeftovers(marker);
    await system?.stop();
    scratch.cleanup();
  });

  it('jobs run on both hosts with byte-identical output, each started once', async () => {
    onTestFailed(() => console.log(system.logs(), hosts.hosts.map((h) => h.name)));
    const rtt = [await roundTripMs(a.host), await roundTripMs(b.host)];
    const began = Date.now();
    const jobs = await Promise.all(
      [0, 1, 2].flatMap((n) => [a, b].map(async (agent) => ({ n, agent, job: await system.client.submit({ command: fixedCommand(scratch.path('runs'), n), target: { type: 'agent', agent: agent.name } }) }))),
    );
    for (const { job } of jobs) expect((await system.client.waitForEnd(job.id, 60_000)).status).toBe('succeeded');
    const tookMs = Date.now() - began;
    for (const { n, agent, job } of jobs) {
      expect((await system.client.logs(job.id, '?stream=stdout')).equals(fixedOutput(n)), `job ${n} on ${agent.name}`).toBe(true);
      expect(starts(job.id)).toBe(1);
    }
    for (const r of rtt) expect(r).toBeGreaterThanOrEqual(100); // 50 ms each way
    console.log(`[ha hosts] an HTTP round trip as the hosts reach the API ${rtt.join(' / ')} ms; ${jobs.length} jobs (${LINES} lines over 1 s each) on both hosts, output byte-identical, all ended ${tookMs} ms after submission`);
  }, 120_000);

  it(`a partition shorter than the grace (${SHORT_CUT_MS} ms): the job resumes and succeeds byte for byte, started once; nothing lost; the agent online again`, async () => {
    onTestFailed(() => console.log(system.logs()));
    const onA = await system.client.submit({ command: streamingCommand(scratch, 'b-a', { bytesPerTick: 500 }), target: { type: 'agent', agent: a.name } });
    const onB = await system.client.submit({ command: streamingCommand(scratch, 'b-b', { bytesPerTick: 500 }), target: { type: 'agent', agent: b.name } });
    await waitForOutputFile(scratch, 'b-a', 20_000);
    await waitForOutputFile(scratch, 'b-b', 20_000);
    const cutAt = Date.now();
    hosts.partition(a.host);
    await until(cutAt + SHORT_CUT_MS);
    hosts.heal(a.host);
    const healedAt = Date.now();
    const online = await system.waitForAgentStatus(a.id, 'online', 60_000);
    const onlineMs = Date.now() - healedAt;
    // More output after the partition, then the end.
    await waitForOutputFile(scratch, 'b-a', scratch.size('b-a.out') + 20_000);
    scratch.raise('b-a.stop');
    scratch.raise('b-b.stop');
    const endA = await system.client.waitForEnd(onA.id, 60_000);
    const endB = await system.client.waitForEnd(onB.id, 60_000);
    expect(endA.status).toBe('succeeded');
    expect(endB.status).toBe('succeeded');
    const bytes = (await expectByteIdentical(system.client, onA.id, scratch.read('b-a.out'))).length;
    await expectByteIdentical(system.client, onB.id, scratch.read('b-b.out'));
    expect(scratch.lines('b-a.runs')).toEqual([onA.id]);
    expect(scratch.lines('b-b.runs')).toEqual([onB.id]);
    expect(online).toMatchObject({ status: 'online' });
    const after = await system.client.submit({ command: fixedCommand(scratch.path('runs'), 7), target: { type: 'agent', agent: a.name } });
    expect((await system.client.waitForEnd(after.id, 60_000)).status).toBe('succeeded');
    expect((await system.client.logs(after.id, '?stream=stdout')).equals(fixedOutput(7))).toBe(true);
    console.log(`[ha hosts] host a partitioned ${SHORT_CUT_MS} ms (grace ${GRACE_MS} ms): agent online ${onlineMs} ms after the link came back, its job succeeded with all ${bytes} bytes byte-identical, started once`);
  }, 120_000);

  it('a partition longer than the grace: its running job ends lost (output kept, started once), the other host unaffected, the agent back online after the link is up and the orphan killed', async () => {
    onTestFailed(() => console.log(system.logs()));
    const doomed = await system.client.submit({ command: streamingCommand(scratch, 'c', { marker, bytesPerTick: 500 }), target: { type: 'agent', agent: a.name } });
    await waitForOutputFile(scratch, 'c', 20_000);
    const cutAt = Date.now();
    hosts.partition(a.host);
    const during = await system.client.submit({ command: fixedCommand(scratch.path('runs'), 8), target: { type: 'agent', agent: b.name } });
    const lost = await system.client.waitForStatus(doomed.id, 'lost', GRACE_MS + 60_000);
    const lostMs = Date.now() - cutAt;
    expect((await system.client.waitForEnd(during.id, 60_000)).status).toBe('succeeded');
    expect((await system.client.logs(during.id, '?stream=stdout')).equals(fixedOutput(8))).toBe(true);
    hosts.heal(a.host);
    const healedAt = Date.now();
    await system.waitForAgentStatus(a.id, 'online', 60_000);
    const onlineMs = Date.now() - healedAt;
    await waitForNoProcess(marker, 30_000); // the agent killed the command it came back with
    scratch.raise('c.stop');
    // Whatever it stored is what the command wrote, from the start (late output was refused).
    const stored = await system.client.logs(doomed.id, '?stream=stdout');
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.equals(scratch.read('c.out').subarray(0, stored.length))).toBe(true);
    expect(scratch.lines('c.runs')).toEqual([doomed.id]);
    expect((await system.client.job(doomed.id)).status).toBe('lost'); // written once: nothing after overwrote it
    expect(lost.status).toBe('lost');
    const after = await system.client.submit({ command: fixedCommand(scratch.path('runs'), 9), target: { type: 'agent', agent: a.name } });
    expect((await system.client.waitForEnd(after.id, 60_000)).status).toBe('succeeded');
    expect(starts(after.id)).toBe(1);
    console.log(`[ha hosts] host a partitioned past the grace (${GRACE_MS} ms): its job ended lost ${lostMs} ms after the cut (${stored.length} bytes kept), the job on host b succeeded meanwhile; after the link came back the agent was online in ${onlineMs} ms, the orphan killed, and a new job there succeeded`);
  }, 150_000);
});
