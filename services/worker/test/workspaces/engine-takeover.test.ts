/**
 * The workspace engine across workers (issue 18): a worker killed -9 midway through a start is
 * taken over by another engine after the takeover window and leaves exactly one environment; two
 * engines polling together never run one operation twice (counted in the fake provider's files);
 * a worker that shuts down gives its operation back at once; an operation found canceling or with
 * no progress for the whole timeout after its worker died ends canceled / timed_out.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import { readOperationLogs, type WorkspaceProvider } from '@vmo/shared/workspaces';
import { waitFor } from '@vmo/testkit';
import { startWorkspaceEngine, type WorkspaceEngine, type WorkspaceEngineOptions } from '../../src/workspaces/engine/index.ts';
import { fakeCalls, fakeEnvironments, fakeProvider } from '../../src/workspaces/providers/fake.ts';
import { fakeWorkspace, openEngineFixture, opReaches, opRow, type EngineFixture } from './engine-fixture.ts';

const CHILD = fileURLToPath(new URL('./engine-child.ts', import.meta.url));

let f: EngineFixture;
const engines: WorkspaceEngine[] = [];

beforeAll(async () => {
  f = await openEngineFixture('ws_takeover');
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});
afterAll(async () => {
  await f?.close();
});

function engine(workerId: string, opts: Partial<WorkspaceEngineOptions> = {}): WorkspaceEngine {
  const e = startWorkspaceEngine(f.cp, { workerId, agentUrl: 'http://127.0.0.1:3121', timeoutMs: 60_000, takeoverMs: 1_500, concurrency: 4, pollMs: 100, heartbeatMs: 200, ...opts });
  engines.push(e);
  return e;
}

describe('the workspace engine across workers', () => {
  it('takes over a start from a worker killed -9 midway, after the window, leaving exactly one environment', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { logs: ['slow start'], hangMs: 4_000 } });
    const childId = `child-${newId('tok').slice(4, 10)}`;
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, f.db.url, f.prefix, childId], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor('the child engine to be midway through the start', async () => {
        if (child.exitCode !== null) throw new Error(`the child engine ended: ${out.slice(-2000)}`);
        const row = await opRow(f, ws.opId);
        return (row.status === 'running' && row.claimed_by === childId && (await fakeEnvironments(ws.config, ws.id)).length === 1) || undefined;
      }, 60_000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect((await opRow(f, ws.opId)).status).toBe('running'); // left behind by the dead worker

    engine('survivor');
    const row = await opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled'], 60_000);
    expect(row).toMatchObject({ status: 'succeeded', claimed_by: 'survivor' });
    const envs = await fakeEnvironments(ws.config, ws.id);
    expect(envs).toHaveLength(1);
    expect(envs[0]!.status).toBe('running');
    const calls = await fakeCalls(ws.config, ws.id);
    expect(calls.map((c) => c.desired)).toEqual(['running', 'running']);
    expect(calls[0]!.pid).toBe(child.pid);
    expect(calls[1]!.pid).toBe(process.pid);
    expect((await readOperationLogs(f.cp, ws.opId)).map((l) => l.line)).toContain(`worker survivor took the operation over from ${childId}`);
  }, 120_000);

  it('never runs one operation twice with two engines polling together', async () => {
    const wss = await Promise.all(Array.from({ length: 12 }, () => fakeWorkspace(f, { converge_running: { logs: ['up'] } })));
    engine('engine-a', { takeoverMs: 10_000 });
    engine('engine-b', { takeoverMs: 10_000 });
    const rows = await Promise.all(wss.map((ws) => opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled'], 60_000)));
    expect(rows.map((r) => r.status)).toEqual(wss.map(() => 'succeeded'));
    for (const r of rows) expect(['engine-a', 'engine-b']).toContain(r.claimed_by);
    for (const ws of wss) {
      expect((await fakeCalls(ws.config, ws.id)).map((c) => c.desired)).toEqual(['running']);
      expect(await fakeEnvironments(ws.config, ws.id)).toHaveLength(1);
    }
  }, 120_000);

  it('gives its operation back when it shuts down, for another worker to take over at once', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { logs: ['hanging'], hangMs: 120_000 } });
    const first = engine('leaving', { takeoverMs: 60_000 });
    await waitFor('the start to hang', async () => (await readOperationLogs(f.cp, ws.opId)).some((l) => l.line === 'hanging') || undefined);
    await first.stop();
    expect((await opRow(f, ws.opId)).status).toBe('running');
    // The next worker's fake has no script: its start returns at once. The window is a minute: only the release lets it in now.
    const quick: WorkspaceProvider = { ...fakeProvider(), converge: (ctx, desired) => fakeProvider().converge({ ...ctx, config: { dir: f.fakeDir } }, desired) };
    engine('staying', { takeoverMs: 60_000, providerFor: () => quick });
    expect(await opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled'], 20_000)).toMatchObject({ status: 'succeeded', claimed_by: 'staying' });
    expect(await fakeEnvironments(ws.config, ws.id)).toHaveLength(1);
  });

  it('ends a dead worker’s canceling operation canceled, and one without progress for the whole timeout timed_out', async () => {
    const canceling = await fakeWorkspace(f);
    const stale = await fakeWorkspace(f);
    await f.cp.database.sql`update workspace_operations set status = 'canceling', claimed_by = 'dead', started_at = now(), progress_at = now() - interval '1 minute' where id = ${canceling.opId}`;
    await f.cp.database.sql`update workspace_operations set status = 'running', claimed_by = 'dead', started_at = now(), progress_at = now() - interval '2 hours' where id = ${stale.opId}`;
    engine('sweeper', { timeoutMs: 3_600_000 });
    expect(await opReaches(f, canceling.opId, ['canceled', 'failed', 'succeeded'])).toMatchObject({ status: 'canceled', claimed_by: 'sweeper' });
    expect(await opReaches(f, stale.opId, ['canceled', 'failed', 'succeeded'])).toMatchObject({ status: 'failed', error_code: 'timed_out', error_message: 'timed out' });
    // Neither called the provider.
    expect(await fakeCalls(canceling.config, canceling.id)).toEqual([]);
    expect(await fakeCalls(stale.config, stale.id)).toEqual([]);
  });
});
