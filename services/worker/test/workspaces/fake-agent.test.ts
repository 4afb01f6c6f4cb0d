/**
 * A workspace end to end on the `fake` provider with `agent: true` (issue 18): created through the
 * API, its create operation run by the real worker's engine, which rotates the agent's token and
 * hands it to the provider; the fake starts the real vmo agent, the workspace turns `healthy` when
 * the agent connects, runs a job, and on stop the agent process is gone and health is `none`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';

let system: TestSystem;
const dir = mkdtempSync(join(tmpdir(), 'vmo-fake-agent-'));

beforeAll(async () => {
  system = await TestSystem.start({ label: 'ws_fake_agent', apis: 1, workers: 0 });
  // The API listens on a port of its own choosing: the worker tells agents where it is.
  await system.startWorker({ VMO_WORKSPACE_AGENT_URL: system.apiUrls[0]! });
}, 120_000);
afterAll(async () => {
  // An agent a failed case left running (its own process group, detached from the worker).
  for (const ws of readdirSync(dir)) {
    try {
      const pid = Number(readFileSync(join(dir, ws, 'agent.pid'), 'utf8'));
      if (pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('services/agent/src/main.ts')) process.kill(-pid, 'SIGKILL');
    } catch {
      // no agent left (no pid file, or the process is gone)
    }
  }
  await system?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a fake workspace with a real agent', () => {
  it('is healthy once its agent connects, runs a job, and leaves no agent after stop', async () => {
    const c = system.client;
    const tpl = await c.request('POST', '/v1/templates', { name: 'fake-with-agent', provider: 'fake', config: { dir, agent: true } });
    expect(tpl.status, tpl.text).toBe(201);
    const created = await c.request('POST', '/v1/workspaces', { name: 'box', template: 'fake-with-agent' });
    expect(created.status, created.text).toBe(202);
    const wsId = created.body.workspace.id as string;

    let last: unknown;
    const healthy = await waitFor('the workspace to be healthy', async () => {
      const r = await c.request('GET', `/v1/workspaces/${wsId}`);
      last = r.body;
      return r.status === 200 && r.body.health === 'healthy' ? r.body : undefined;
    }, 90_000, 200).catch(async (err: Error) => {
      const agentLog = await readFile(join(dir, wsId, 'agent.log'), 'utf8').catch(() => '(no agent log)');
      const opLog = await c.request('GET', `/v1/operations/${created.body.operation.id}`);
      throw new Error(`${err.message}\nworkspace: ${JSON.stringify(last)}\noperation: ${opLog.text}\nagent log: ${agentLog.slice(-3000)}`);
    });
    expect(healthy.status).toBe('running');
    const agentId = healthy.agent.id as string;
    const pid = Number(await readFile(join(dir, wsId, 'agent.pid'), 'utf8'));
    expect(alive(pid)).toBe(true);

    // The operation's log says what happened, and never the token.
    const op = await c.request('GET', `/v1/operations/${created.body.operation.id}`);
    expect(op.status, op.text).toBe(200);
    const logText = JSON.stringify(op.body);
    expect(logText).toContain('fake: agent started');
    expect(logText).not.toMatch(/vmo_agt_|vmo_agent_/);

    const job = await c.request('POST', '/v1/jobs', { command: 'echo from-the-workspace', target: { type: 'agent', agent: agentId } });
    expect(job.status, job.text).toBe(201);
    const ended = await waitFor('the job to end', async () => {
      const r = await c.request('GET', `/v1/jobs/${job.body.id}`);
      return r.body.status !== 'queued' && r.body.status !== 'running' ? r.body : undefined;
    }, 60_000, 100);
    expect(ended.status).toBe('succeeded');

    const stop = await c.request('POST', `/v1/workspaces/${wsId}/stop`);
    expect(stop.status, stop.text).toBe(202);
    await waitFor('the workspace to be stopped', async () => {
      const r = await c.request('GET', `/v1/workspaces/${wsId}`);
      return r.body.status === 'stopped' ? r.body : undefined;
    }, 60_000, 200);
    expect(alive(pid)).toBe(false);
    expect((await c.request('GET', `/v1/workspaces/${wsId}`)).body.health).toBe('none');
  }, 240_000);
});
