/**
 * Issue 8 #13: a cancel that lands just after the command exited must not turn the exit into
 * `canceled`: the exit that happened first wins. The window is real: between the command's exit
 * and the end being written, the output is stored and the status written. Here Postgres is
 * stalled for the process that records the end (the worker for local jobs, the API node holding
 * the agent for agent jobs), the command exits, the cancel is accepted by another path, then
 * Postgres comes back: the job is `succeeded` with exit code 0, its cancel recorded but not
 * its cause.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching, TcpProxy, TestSystem, uniqueSleepArg, waitFor } from '@vmo/testkit';

const POSTGRES_PORT = Number(new URL(process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres').port || 5432);

describe('a cancel that crosses the exit', () => {
  let system: TestSystem;
  let proxy: TcpProxy;
  let dir: string;
  let proxiedUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-cancel-after-exit-'));
    proxy = await TcpProxy.start(POSTGRES_PORT);
    system = await TestSystem.start({ label: 'crossexit', workers: 0 });
    const url = new URL(system.env.VMO_DATABASE_URL!);
    url.port = String(proxy.port);
    proxiedUrl = url.toString();
  });
  afterAll(async () => {
    proxy?.restore();
    await system?.stop();
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A command that exits 0 once `go` exists (found by pgrep on its text). */
  const waitsFor = (go: string) => `while [ ! -e ${go} ]; do sleep 0.05; done; exit 0`;

  async function crossTheExit(target: Record<string, unknown>, name: string) {
    const go = join(dir, `${name}-go`);
    const job = await system.client.submit({ command: waitsFor(go), target });
    await system.client.waitForStatus(job.id, 'running');
    await waitFor(`${name}: the command running`, async () => ((await processesMatching(`while \\[ ! -e ${go}`)).length > 0 ? true : undefined), 30_000);

    proxy.stall(); // the recorder of this job's end can no longer reach Postgres
    writeFileSync(go, '');
    await waitFor(`${name}: the command exited`, async () => ((await processesMatching(`while \\[ ! -e ${go}`)).length === 0 ? true : undefined), 30_000);
    expect(existsSync(go)).toBe(true);

    // The cancel goes through the API that talks to Postgres directly; the job is still running there.
    const cancel = await system.client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 1000 });
    expect(cancel.status).toBe(202);
    expect(cancel.body.status).toBe('running');

    proxy.restore();
    const end = await system.client.waitForEnd(job.id, 60_000);
    expect(end, name).toMatchObject({ status: 'succeeded', exitCode: 0, signal: null });
  }

  it('local job: succeeded with exit code 0', async () => {
    await system.startWorker({ VMO_DATABASE_URL: proxiedUrl });
    await crossTheExit({ type: 'local' }, 'local');
  });

  it('agent job: succeeded with exit code 0 (the agent reports that its exit came first)', async () => {
    // API node 1 holds the agent and records its jobs' ends through the proxy.
    await system.startApi({ VMO_DATABASE_URL: proxiedUrl });
    const res = await system.client.request('POST', '/v1/agents', { name: 'crossing' });
    system.spawnAgent(res.body.token, { servers: [system.apiUrls[1]!] });
    await system.waitForAgentStatus(res.body.id, 'online');
    await crossTheExit({ type: 'agent', agent: res.body.id }, 'agent');
  });

  it('a cancel that reaches the command while it runs still ends it canceled', async () => {
    const marker = uniqueSleepArg();
    for (const target of [{ type: 'local' }, { type: 'agent', agent: 'crossing' }]) {
      const job = await system.client.submit({ command: `sleep ${marker}`, target });
      await system.client.waitForStatus(job.id, 'running');
      await waitFor('the sleep running', async () => ((await processesMatching(`^sleep ${marker}`)).length === 1 ? true : undefined), 30_000);
      expect((await system.client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 1000 })).status).toBe(202);
      expect(await system.client.waitForEnd(job.id, 30_000)).toMatchObject({ status: 'canceled', signal: 'SIGTERM' });
    }
  });
});
