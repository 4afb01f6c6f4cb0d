/**
 * Host-bound providers (netns, fake: machines on the worker's own disk and kernel): once a host ran
 * a workspace, only that host's engines take its operations (provider_state.host), so a stop
 * claimed elsewhere can never "succeed" doing nothing while the machine runs on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import { startWorkspaceEngine, type WorkspaceEngine } from '../../src/workspaces/engine/index.ts';
import { fakeEnvironments, fakeProvider } from '../../src/workspaces/providers/fake.ts';
import { fakeWorkspace, openEngineFixture, opReaches, opRow, requestOp, type EngineFixture } from './engine-fixture.ts';

let f: EngineFixture;
const engines: WorkspaceEngine[] = [];

beforeAll(async () => {
  f = await openEngineFixture('ws_hosts');
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});
afterAll(async () => {
  await f?.close();
});

function engine(hostId: string): WorkspaceEngine {
  const provider = fakeProvider();
  const e = startWorkspaceEngine(f.cp, {
    workerId: `${hostId}-${newId('tok').slice(4, 10)}`,
    hostId,
    agentUrl: 'http://127.0.0.1:3121',
    timeoutMs: 60_000,
    takeoverMs: 5_000,
    concurrency: 4,
    pollMs: 50,
    heartbeatMs: 200,
    providerFor: () => provider,
  });
  engines.push(e);
  return e;
}

const hostOf = async (workspaceId: string) =>
  (await f.cp.database.sql<{ host: string | null }[]>`select provider_state->>'host' as host from workspaces where id = ${workspaceId}`)[0]!.host;

describe('host-bound workspaces', () => {
  it('an operation of a workspace bound to host A is taken by A’s engine only, never by B’s', async () => {
    const a = engine('host-a');
    const ws = await fakeWorkspace(f);
    expect((await opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    expect(await hostOf(ws.id)).toBe('host-a');
    await a.stop();
    engines.splice(engines.indexOf(a), 1);

    // B polls: it passes over the older stop (host A's) and takes the newer unbound create.
    engine('host-b');
    const stop = await requestOp(f, ws.id, 'stop');
    const other = await fakeWorkspace(f);
    expect((await opReaches(f, other.opId, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    expect(await hostOf(other.id)).toBe('host-b');
    expect(await opRow(f, stop)).toMatchObject({ status: 'pending', claimed_by: null });
    expect((await fakeEnvironments(ws.config, ws.id))[0]!.status).toBe('running');

    // A comes back and stops its own machine; the host stays recorded while the workspace exists.
    engine('host-a');
    expect((await opReaches(f, stop, ['succeeded', 'failed', 'canceled'])).claimed_by).toMatch(/^host-a-/);
    expect((await fakeEnvironments(ws.config, ws.id))[0]!.status).toBe('stopped');
    expect(await hostOf(ws.id)).toBe('host-a');

    // Deleted (absent): nothing is left to bind it.
    const del = await requestOp(f, ws.id, 'delete');
    expect((await opReaches(f, del, ['succeeded', 'failed', 'canceled'])).claimed_by).toMatch(/^host-a-/);
    expect(await hostOf(ws.id)).toBeNull();
  });
});
