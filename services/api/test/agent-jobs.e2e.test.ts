import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWebSocket, TestSystem, uniqueSleepArg, waitFor, type ServiceProcess } from '@vmo/testkit';
import { jobBehaviourSuite, waitForNoProcess, waitForProcesses } from './job-behaviour-suite.ts';

/** Jobs on a real agent process, and the agent's own life cycle as a user sees it over REST. */
describe('agent jobs (real API + worker + agent)', () => {
  let system: TestSystem;
  let agent: { id: string; token: string; process: ServiceProcess };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'agent_jobs' });
    agent = await system.startAgent('e2e-main', { labels: { role: 'e2e', zone: 'test' }, env: { E2E_AGENT_SECRET: 'must-not-leak' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  describe('by name', () => {
    jobBehaviourSuite(() => ({ client: system.client, target: { type: 'agent', agent: 'e2e-main' }, hostOnlyVar: 'E2E_AGENT_SECRET' }));
  });

  it('runs a job addressed by agent id, and records the resolved agent', async () => {
    const job = await system.client.submit({ command: 'echo by-id; hostname >&2', target: { type: 'agent', agent: agent.id } });
    expect(job.agentId).toBe(agent.id);
    const ended = await system.client.waitForEnd(job.id);
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await system.client.logs(job.id, '?stream=stdout')).toString()).toBe('by-id\n');

    const listed = await system.client.request('GET', `/v1/jobs?agent=e2e-main&limit=500`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((j: { id: string }) => j.id)).toContain(job.id);
    expect(listed.body.items.every((j: { agentId: string }) => j.agentId === agent.id)).toBe(true);
  });

  it('shows the agent in GET /v1/agents and /v1/agents/{id}: online, hostname, version, labels, running jobs', async () => {
    const { client } = system;
    // Polled, not read once: presence lives two heartbeats (1 s here), and a starved test machine
    // can delay one heartbeat past that; what is checked is that the listing shows it online.
    const listed = await waitFor('the agent listed online', async () => {
      const list = await client.request('GET', '/v1/agents');
      expect(list.status).toBe(200);
      return list.body.items.find((a: { id: string; status: string }) => a.id === agent.id && a.status === 'online');
    });
    expect(listed).toMatchObject({ name: 'e2e-main', status: 'online' });

    const marker = uniqueSleepArg();
    const job = await client.submit({ command: `sleep ${marker}`, target: { type: 'agent', agent: 'e2e-main' } });
    await client.waitForStatus(job.id, 'running');
    const busy = await waitFor('the agent online with its running job', async () => {
      const res = await client.request('GET', `/v1/agents/${agent.id}`);
      expect(res.status).toBe(200);
      return res.body.status === 'online' && res.body.runningJobs === 1 ? res : undefined;
    });
    expect(busy.body).toMatchObject({ id: agent.id, name: 'e2e-main', status: 'online', labels: { role: 'e2e', zone: 'test' }, runningJobs: 1 });
    expect(busy.body.hostname).toEqual(expect.any(String));
    expect(busy.body.hostname.length).toBeGreaterThan(0);
    expect(busy.body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number.isNaN(Date.parse(busy.body.lastSeenAt))).toBe(false);
    expect(busy.body).not.toHaveProperty('token');
    expect(JSON.stringify(busy.body)).not.toContain(agent.token);

    expect((await client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 500 })).status).toBe(202);
    expect((await client.waitForEnd(job.id)).status).toBe('canceled');
    await waitForNoProcess(`sleep ${marker}`);
    const idle = await waitFor('runningJobs back to 0', async () => {
      const res = await client.request('GET', `/v1/agents/e2e-main`);
      return res.body.runningJobs === 0 && res.body.status === 'online' ? res.body : undefined;
    });
    expect(idle.status).toBe('online');
  });

  it('refuses a taken agent name (409) and a job for an unknown agent (422 unknown_agent)', async () => {
    const { client } = system;
    const taken = await client.request('POST', '/v1/agents', { name: 'e2e-main' });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toEqual({ code: expect.any(String), message: expect.stringContaining('e2e-main') });

    const before = (await client.request('GET', '/v1/jobs?limit=1')).body.items[0]?.id;
    const unknown = await client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'no-such-agent' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe('unknown_agent');
    expect((await client.request('GET', '/v1/jobs?limit=1')).body.items[0]?.id).toBe(before); // nothing stored
  });

  it('shows an agent offline soon after its process dies (kill -9)', async () => {
    const doomed = await system.startAgent('e2e-doomed');
    await doomed.process.kill();
    const seen = await system.waitForAgentStatus(doomed.id, 'offline', 20_000);
    expect(seen.status).toBe('offline');
  });

  it('shows a frozen agent (SIGSTOP: socket open, heartbeats stopped) offline, and online again once it resumes', async () => {
    const frozen = await system.startAgent('e2e-frozen');
    frozen.process.child.kill('SIGSTOP');
    try {
      await system.waitForAgentStatus(frozen.id, 'offline', 20_000);
    } finally {
      frozen.process.child.kill('SIGCONT');
    }
    await system.waitForAgentStatus(frozen.id, 'online', 30_000);
    const job = await system.client.submit({ command: 'echo thawed', target: { type: 'agent', agent: 'e2e-frozen' } });
    expect(await system.client.waitForEnd(job.id)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await system.client.logs(job.id)).toString()).toBe('thawed\n');
  });

  it('revokes an agent: its process is cut off (exits non-zero), its token refused (401) from then on', async () => {
    const { client } = system;
    const revoked = await system.startAgent('e2e-revoked');
    const del = await client.request('DELETE', `/v1/agents/${revoked.id}`);
    expect(del.status).toBe(204);

    const exit = await revoked.process.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();

    const upgrade = await openWebSocket(`${system.apiUrls[0]}/v1/agent/connect`, { token: revoked.token });
    expect(upgrade.kind).toBe('refused');
    if (upgrade.kind === 'refused') expect(upgrade.status).toBe(401);

    expect((await client.request('GET', `/v1/agents/${revoked.id}`)).status).toBe(404);
    expect((await client.request('DELETE', `/v1/agents/${revoked.id}`)).status).toBe(404);
    const job = await client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: revoked.id } });
    expect(job.status).toBe(422);
    expect(job.body.error.code).toBe('unknown_agent');

    // The other agent is untouched.
    const still = await client.submit({ command: 'echo still-here', target: { type: 'agent', agent: 'e2e-main' } });
    expect((await client.waitForEnd(still.id)).status).toBe('succeeded');
  });

  it('refuses a user token on the agent endpoint (403) and an agent token on the REST API', async () => {
    const upgrade = await openWebSocket(`${system.apiUrls[0]}/v1/agent/connect`, { token: system.token });
    expect(upgrade.kind).toBe('refused');
    if (upgrade.kind === 'refused') expect(upgrade.status).toBe(403);
    const rest = await system.clientFor(0, agent.token).request('GET', '/v1/jobs');
    expect([401, 403]).toContain(rest.status);
    expect(rest.body.error.code).toEqual(expect.any(String));
  });

  it('cancel of a job on an agent leaves no process behind even with children in the background', async () => {
    const { client } = system;
    const marker = uniqueSleepArg();
    const job = await client.submit({ command: `(sleep ${marker} &) ; sleep ${marker} & sleep ${marker}; wait`, target: { type: 'agent', agent: agent.id } });
    await client.waitForStatus(job.id, 'running');
    await waitForProcesses(`^sleep ${marker}`, 3);
    expect((await client.request('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(202);
    expect((await client.waitForEnd(job.id)).status).toBe('canceled');
    await waitForNoProcess(`sleep ${marker}`);
  });
});
