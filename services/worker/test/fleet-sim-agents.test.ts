import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { registerSimAgents, SimAgents, TestSystem, waitFor, type SimAgentIdentity } from '@vmo/testkit';

/**
 * The simulated agents (packages/testkit/src/sim-agents.ts) against the real API and worker:
 * single jobs end as a real agent's would (status, exit code, bytes), a cancel stops one, a
 * connection cut mid-job resends the output and the exit (§6), a crashed agent's job ends `lost`
 * (§6). The fleet must-hold tests rely on this being the real protocol.
 */
describe('simulated agents speak the real protocol', () => {
  let system: TestSystem;
  let sim: SimAgents;
  let agents: SimAgentIdentity[];
  let sql: ReturnType<typeof postgres>;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'fleet_sim', env: { VMO_HEARTBEAT_MS: '2000' } });
    agents = await registerSimAgents(system.databaseUrl, 20, { prefix: 'simcheck', labels: (i) => ({ fleet: 'check', parity: i % 2 ? 'odd' : 'even' }) });
    sim = new SimAgents({ servers: system.apiUrls, agents });
    await sim.start();
    sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await sim?.stop();
    await system?.stop();
  });

  const submit = (agent: string, command: string, extra: Record<string, unknown> = {}) => system.client.submit({ command, target: { type: 'agent', agent }, ...extra });

  it('shows every simulated agent online with its registered labels', async () => {
    onTestFailed(() => console.log(system.logs()));
    const listed = await waitFor('20 agents online', async () => {
      const res = await system.client.request('GET', '/v1/agents?limit=100');
      const items = (res.body.items ?? []) as { name: string; status: string; labels: Record<string, string> }[];
      return items.filter((a) => a.status === 'online').length === 20 ? items : undefined;
    }, 30_000, 100);
    expect(listed.find((a) => a.name === 'simcheck-3')!.labels).toMatchObject({ fleet: 'check', parity: 'odd' });
  });

  it('runs `true`, `false`, `exit 3` and `echo` to the statuses, exit codes and bytes a real agent gives', async () => {
    onTestFailed(() => console.log(system.logs()));
    const jobs = await Promise.all([submit('simcheck-0', 'true'), submit('simcheck-1', 'false'), submit('simcheck-2', 'exit 3'), submit('simcheck-3', 'echo hello fleet; echo oops >&2; exit 0'), submit('simcheck-4', 'frobnicate')]);
    const ended = await Promise.all(jobs.map((j) => system.client.waitForEnd(j.id)));
    expect(ended[0]).toMatchObject({ status: 'succeeded', exitCode: 0, outputBytes: 0 });
    expect(ended[1]).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(ended[2]).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(ended[3]).toMatchObject({ status: 'succeeded', exitCode: 0, outputBytes: 17 });
    expect(ended[4]).toMatchObject({ status: 'failed', exitCode: 127 });
    expect((await system.client.logs(jobs[3]!.id, '?stream=stdout')).toString()).toBe('hello fleet\n');
    expect((await system.client.logs(jobs[3]!.id, '?stream=stderr')).toString()).toBe('oops\n');
    for (const j of jobs) expect(sim.jobRecord(j.id)).toMatchObject({ starts: 1, runsAfterEnd: 0, exitAcked: true, attempts: [1] });
  });

  it('§4 cancels a running job: canceled, the agent saw the cancel', async () => {
    onTestFailed(() => console.log(system.logs()));
    const job = await submit('simcheck-5', 'echo before; sleep 600; echo never');
    await waitFor('the agent started it', () => sim.jobRecord(job.id)?.starts === 1, 30_000);
    await system.client.waitForStatus(job.id, 'running');
    const res = await system.client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 100 });
    expect(res.status).toBe(202);
    expect(await system.client.waitForEnd(job.id)).toMatchObject({ status: 'canceled' });
    // The exit's ack travels to the agent after the end is stored: it may still be on its way when the status reads canceled.
    await waitFor('the agent to have its exit acknowledged', () => sim.jobRecord(job.id)?.exitAcked === true, 30_000);
    expect(sim.jobRecord(job.id)).toMatchObject({ canceled: true, exitAcked: true, starts: 1 });
    expect((await system.client.logs(job.id)).toString()).toBe('before\n');
  });

  it('§6 a connection cut mid-job: the agent reconnects, resends, the job succeeds with every byte, started once', async () => {
    onTestFailed(() => console.log(system.logs()));
    const job = await submit('simcheck-6', 'echo one; sleep 1.5; echo two');
    await waitFor('the agent started it', () => sim.jobRecord(job.id)?.starts === 1, 30_000);
    sim.cut('simcheck-6');
    const ended = await system.client.waitForEnd(job.id, 60_000);
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await system.client.logs(job.id)).toString()).toBe('one\ntwo\n');
    expect(sim.jobRecord(job.id)).toMatchObject({ starts: 1, runsAfterEnd: 0, exitAcked: true });
    expect(sim.closeCodes[1006]).toBeGreaterThanOrEqual(1);
  });

  it('§6 a crashed agent comes back without its job: the job ends lost, never started again', async () => {
    onTestFailed(() => console.log(system.logs()));
    const job = await submit('simcheck-7', 'sleep 600');
    await waitFor('the agent started it', () => sim.jobRecord(job.id)?.starts === 1, 30_000);
    // The gateway must have recorded the acceptance first (else the job was only dispatched, and is re-sent).
    await waitFor('the gateway recorded the acceptance', async () => (await sql`select accepted_at from jobs where id = ${job.id}`)[0]?.accepted_at != null, 30_000, 50);
    sim.crash('simcheck-7', 200);
    const ended = await system.client.waitForEnd(job.id, 60_000);
    expect(ended.status).toBe('lost');
    expect(sim.jobRecord(job.id)!.starts).toBe(1);
    await sim.waitOnline(30_000);
    expect(sim.protocolErrors).toEqual([]);
  });
});
