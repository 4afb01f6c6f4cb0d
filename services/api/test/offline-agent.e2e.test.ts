import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { TestSystem } from '@vmo/testkit';

/**
 * A job addressed to an agent that is not connected: it waits `queued` (holding no worker slot)
 * until the agent comes online, and fails `agent_offline` once VMO_DISPATCH_TIMEOUT_MS passes.
 * Real API, worker and agent processes.
 */
async function enroll(system: TestSystem, name: string): Promise<{ id: string; token: string }> {
  const res = await system.client.request('POST', '/v1/agents', { name });
  expect(res.status).toBe(201);
  return res.body;
}

describe('a job for an agent not yet connected', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'offline_agent_wait' }); // default dispatch timeout: 10 min
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('waits queued while other jobs run, then runs once the agent connects', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const late = await enroll(system, 'late');
    const job = await client.submit({ command: 'echo ran-late', target: { type: 'agent', agent: 'late' } });
    expect(job).toMatchObject({ status: 'queued', agentId: late.id });

    // Jobs submitted after it run to their end meanwhile; it is neither started nor failed.
    const others = await Promise.all(Array.from({ length: 3 }, () => client.submit({ command: 'true', target: { type: 'local' } })));
    for (const other of others) expect((await client.waitForEnd(other.id)).status).toBe('succeeded');
    expect((await client.job(job.id)).status).toBe('queued');

    system.spawnAgent(late.token);
    const ended = await client.waitForEnd(job.id, 30_000);
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await client.logs(job.id)).toString()).toBe('ran-late\n');
  });
});

describe('a job for an agent that never connects', () => {
  const DISPATCH_TIMEOUT_MS = 2000;
  let system: TestSystem;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'offline_agent_fail', env: { VMO_DISPATCH_TIMEOUT_MS: String(DISPATCH_TIMEOUT_MS) } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('fails agent_offline, with no output, once the dispatch timeout passes', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const absent = await enroll(system, 'never-connects');
    const job = await client.submit({ command: 'echo must-not-run', target: { type: 'agent', agent: absent.id } });
    const ended = await client.waitForEnd(job.id, DISPATCH_TIMEOUT_MS + 30_000);
    expect(ended).toMatchObject({ status: 'failed', exitCode: null, startedAt: null, outputBytes: 0 });
    expect(ended.error).toMatchObject({ code: 'agent_offline' });
    expect(ended.error!.message).toContain(absent.id);
    expect(Date.parse(ended.finishedAt!) - Date.parse(ended.createdAt)).toBeGreaterThanOrEqual(DISPATCH_TIMEOUT_MS);
    expect((await client.logs(job.id)).length).toBe(0);
  });
});
