/**
 * Issue 8 #15: revoking an agent ends its jobs at once (`failed`, error `agent_revoked`), instead
 * of leaving them `running` for the lost-agent grace (120 s by default) and then `lost`; the
 * command on the agent is killed and the agent stops (exit 2: refused for good).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching, TestSystem, uniqueSleepArg, waitFor } from '@vmo/testkit';

describe('revoking an agent mid-job', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // The default grace: the job must not wait for it.
    system = await TestSystem.start({ label: 'revoke', env: { VMO_AGENT_GRACE_MS: '120000' } });
  });
  afterAll(() => system?.stop());

  it('ends its running and queued jobs at once with an error saying it was revoked, and kills the command', async () => {
    const { id, process: agentProcess } = await system.startAgent('doomed');
    const marker = uniqueSleepArg(600);
    const running = await system.client.submit({ command: `sleep ${marker}`, target: { type: 'agent', agent: id } });
    await system.client.waitForStatus(running.id, 'running');
    await waitFor('the command running on the agent', async () => ((await processesMatching(`^sleep ${marker}`)).length === 1 ? true : undefined), 30_000);

    // A second agent that never connects: its job waits queued, and is ended by the revoke too.
    const offline = await system.client.request('POST', '/v1/agents', { name: 'never-connected' });
    const queued = await system.client.submit({ command: 'true', target: { type: 'agent', agent: offline.body.id } });

    expect((await system.client.request('DELETE', `/v1/agents/${id}`)).status).toBe(204);
    // Ended by the time the DELETE answered; polled only to be kind to a slow machine.
    const ended = await system.client.waitForEnd(running.id, 10_000);
    expect(ended).toMatchObject({ status: 'failed', exitCode: null, error: { code: 'agent_revoked', message: `agent ${id} was revoked while the job ran; its command was killed` } });
    await waitFor('the command gone from the agent', async () => ((await processesMatching(`^sleep ${marker}`)).length === 0 ? true : undefined), 15_000);
    expect((await agentProcess.exited).code).toBe(2);

    expect((await system.client.request('DELETE', `/v1/agents/${offline.body.id}`)).status).toBe(204);
    expect(await system.client.waitForEnd(queued.id, 10_000)).toMatchObject({
      status: 'failed',
      error: { code: 'agent_revoked', message: `agent ${offline.body.id} was revoked before the job started` },
    });
  });

  it('a queued job that slipped past the revoke (inserted in the same instant) fails at the next look, not after the dispatch timeout', async () => {
    const agent = await system.client.request('POST', '/v1/agents', { name: 'raced' });
    const job = await system.client.submit({ command: 'true', target: { type: 'agent', agent: agent.body.id } });
    // The revoke as the racing insert saw it: the agent row revoked, this job not ended.
    const sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await sql`update agents set revoked_at = now() where id = ${agent.body.id}`;
    } finally {
      await sql.end();
    }
    expect(await system.client.waitForEnd(job.id, 20_000)).toMatchObject({ status: 'failed', error: { code: 'agent_revoked' } });
  });
});
