/**
 * A snapshot never stays `pending` for good: it leaves `pending` with its operation, on every end
 * path (settleSnapshots): succeeded → ready, a cancel while pending, a timeout while it ran, a
 * timeout found at claim, an end that does not settle it (an orphan delete: the engine's sweep).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import { existsSync } from 'node:fs';
import { cancelOperation, deleteSnapshot, listSnapshots, readOperationLogs, type WorkspaceProvider } from '@vmo/shared/workspaces';
import { waitFor } from '@vmo/testkit';
import { startWorkspaceEngine, type WorkspaceEngine, type WorkspaceEngineOptions } from '../../src/workspaces/engine/index.ts';
import { fakeEnvironments, fakeProvider } from '../../src/workspaces/providers/fake.ts';
import { fakeWorkspace, openEngineFixture, opReaches, requestOp, type EngineFixture, type TestWorkspace } from './engine-fixture.ts';

let f: EngineFixture;
const engines: WorkspaceEngine[] = [];

beforeAll(async () => {
  f = await openEngineFixture('ws_snaps');
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});
afterAll(async () => {
  await f?.close();
});

function engine(opts: Partial<WorkspaceEngineOptions> = {}): WorkspaceEngine {
  const e = startWorkspaceEngine(f.cp, {
    workerId: `test-${newId('tok').slice(4, 10)}`,
    agentUrl: 'http://127.0.0.1:3121',
    timeoutMs: 60_000,
    takeoverMs: 5_000,
    concurrency: 4,
    pollMs: 50,
    heartbeatMs: 200,
    abortGraceMs: 500,
    ...opts,
  });
  engines.push(e);
  return e;
}

async function stopEngines(): Promise<void> {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
}

/** A stopped fake workspace (no engine left running) and a pending snapshot row of it. */
async function stoppedWithSnapshotRow(): Promise<{ ws: TestWorkspace; snapId: string }> {
  const ws = await fakeWorkspace(f);
  engine();
  await opReaches(f, ws.opId, ['succeeded']);
  await opReaches(f, await requestOp(f, ws.id, 'stop'), ['succeeded']);
  await stopEngines();
  const snapId = newId('snp');
  await f.cp.database.sql`insert into workspace_snapshots (id, workspace_id, name) values (${snapId}, ${ws.id}, ${`s-${snapId.slice(4, 10)}`})`;
  return { ws, snapId };
}

const snapStatus = async (id: string) => (await f.cp.database.sql<{ status: string }[]>`select status from workspace_snapshots where id = ${id}`)[0]!.status;

describe('snapshot status follows its operation', () => {
  it('ready when it succeeded', async () => {
    const { ws, snapId } = await stoppedWithSnapshotRow();
    const op = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    engine();
    expect((await opReaches(f, op, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    expect(await snapStatus(snapId)).toBe('ready');
  });

  it('failed when its operation is canceled while pending', async () => {
    const { ws, snapId } = await stoppedWithSnapshotRow();
    const op = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    await cancelOperation(f.cp, op, 'admin');
    expect(await snapStatus(snapId)).toBe('failed');
  });

  it('failed when the provider hangs past the timeout', async () => {
    const { ws, snapId } = await stoppedWithSnapshotRow();
    const hanging: WorkspaceProvider = {
      ...fakeProvider(),
      snapshot: (ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })),
    };
    const op = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    engine({ timeoutMs: 1_000, providerFor: () => hanging });
    expect(await opReaches(f, op, ['succeeded', 'failed', 'canceled'])).toMatchObject({ status: 'failed', error_code: 'timed_out' });
    expect(await snapStatus(snapId)).toBe('failed');
  });

  it('failed when it timed out before any worker took it (found at claim)', async () => {
    const { ws, snapId } = await stoppedWithSnapshotRow();
    const op = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    await f.cp.database.sql`update workspace_operations set created_at = clock_timestamp() - interval '1 hour' where id = ${op}`;
    engine();
    expect(await opReaches(f, op, ['succeeded', 'failed', 'canceled'])).toMatchObject({ status: 'failed', error_code: 'timed_out' });
    expect(await snapStatus(snapId)).toBe('failed');
  });

  it('failed by the engine’s sweep when its operation ended elsewhere (an orphan delete)', async () => {
    const { ws, snapId } = await stoppedWithSnapshotRow();
    const op = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    await f.cp.database.sql`update workspace_snapshots set operation_id = ${op} where id = ${snapId}`;
    await f.cp.database.sql`update workspace_operations set status = 'canceled', ended_at = clock_timestamp(), error_code = 'orphan_delete' where id = ${op}`;
    engine();
    await waitFor('the sweep to fail the snapshot', async () => ((await snapStatus(snapId)) === 'failed' ? true : undefined), 20_000);
  });
});

describe('deleting snapshots deletes their data', () => {
  const taken = async (): Promise<{ ws: TestWorkspace; snapId: string; file: string }> => {
    const { ws, snapId } = await stoppedWithSnapshotRow();
    const op = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    engine();
    expect((await opReaches(f, op, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    const [row] = await f.cp.database.sql<{ provider_ref: { file: string } }[]>`select provider_ref from workspace_snapshots where id = ${snapId}`;
    expect(existsSync(row!.provider_ref.file)).toBe(true);
    return { ws, snapId, file: row!.provider_ref.file };
  };
  const rowGone = (id: string) => waitFor(`snapshot ${id}'s row to go`, async () => ((await f.cp.database.sql`select 1 from workspace_snapshots where id = ${id}`).length === 0 ? true : undefined), 20_000);

  it('a snapshot DELETE: hidden at once, then the engine deletes its archive and its row', async () => {
    const { ws, snapId, file } = await taken();
    await deleteSnapshot(f.cp, ws.id, snapId);
    expect(await listSnapshots(f.cp, ws.id)).toEqual([]);
    await rowGone(snapId);
    expect(existsSync(file)).toBe(false);
  });

  it('a workspace delete deletes its snapshots’ archives and rows before the machine', async () => {
    const { ws, snapId, file } = await taken();
    const del = await requestOp(f, ws.id, 'delete');
    expect((await opReaches(f, del, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    expect(existsSync(file)).toBe(false);
    expect((await f.cp.database.sql`select 1 from workspace_snapshots where id = ${snapId}`).length).toBe(0);
  });
});

describe('a create from a snapshot', () => {
  it('converges stopped, restores the snapshot, then runs', async () => {
    const { ws: source, snapId } = await stoppedWithSnapshotRow();
    const op = await requestOp(f, source.id, 'snapshot', { snapshotId: snapId });
    engine();
    expect((await opReaches(f, op, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    await stopEngines();

    const ws = await fakeWorkspace(f);
    await f.cp.database.sql`update workspace_operations set input = ${JSON.stringify({ snapshotId: snapId })}::jsonb where id = ${ws.opId}`;
    engine();
    expect((await opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled'])).status).toBe('succeeded');
    const lines = (await readOperationLogs(f.cp, ws.opId)).map((l) => l.line);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^create: restoring snapshot /), `fake: snapshot ${snapId} restored`]));
    const envs = await fakeEnvironments(ws.config, ws.id);
    expect(envs.map((e) => e.status)).toEqual(['running']);
  });
});
