/**
 * The workspace operation engine (issue 18) against the real Postgres and Redis, on the `fake`
 * provider (environments as files): an operation's life (pending → running → succeeded with its
 * provider state stored and its agent token rotated), a failing start, a cancel of a hanging start
 * then stop and delete, the no-progress timeout, snapshot/restore, logs and health.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import { hashToken } from '@vmo/shared/tokens';
import { BusSubscriber } from '@vmo/shared/bus';
import { followOperationLogs, readOperationLogs, readWorkspaceHealth, workspaceHealth, type OperationLogLine, type WorkspaceProvider } from '@vmo/shared/workspaces';
import { TEST_REDIS_URL, waitFor } from '@vmo/testkit';
import { startWorkspaceEngine, type WorkspaceEngine, type WorkspaceEngineOptions } from '../../src/workspaces/engine/index.ts';
import { fakeCalls, fakeEnvironments, fakeProvider } from '../../src/workspaces/providers/fake.ts';
import { fakeWorkspace, openEngineFixture, opReaches, opRow, requestCancel, requestOp, type EngineFixture } from './engine-fixture.ts';

let f: EngineFixture;
const engines: WorkspaceEngine[] = [];

beforeAll(async () => {
  f = await openEngineFixture('ws_engine');
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
    concurrency: 8,
    pollMs: 100,
    heartbeatMs: 200,
    ...opts,
  });
  engines.push(e);
  return e;
}

const stateOf = async (workspaceId: string) =>
  (await f.cp.database.sql<{ provider_state: Record<string, unknown> | null; deleted_at: Date | null; template_version: number }[]>`select provider_state, deleted_at, template_version from workspaces where id = ${workspaceId}`)[0]!;

describe('the workspace operation engine', () => {
  it('runs an operation pending → running → succeeded, storing the provider state and rotating the agent token', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { logs: ['pulling the image', 'booting'] } });
    const [before] = await f.cp.database.sql<{ token_hash: string }[]>`select token_hash from agents where id = ${ws.agentId}`;
    const seen: string[] = [];
    const recording: WorkspaceProvider = {
      ...fakeProvider(),
      async converge(ctx, desired) {
        seen.push(`${desired}:${ctx.agent ? `${ctx.agent.url}|${ctx.agent.name}|${JSON.stringify(ctx.agent.labels)}|${hashToken(ctx.agent.token)}` : 'none'}`);
        ctx.log(`the token is ${ctx.agent?.token}`); // a careless provider: the engine redacts it
        return fakeProvider().converge(ctx, desired);
      },
    };
    const w = engine({ providerFor: () => recording });
    expect((await opRow(f, ws.opId)).status).toBe('pending');
    const row = await opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled']);
    expect(row).toMatchObject({ status: 'succeeded', error_code: null, claimed_by: expect.stringMatching(/^test-/) });
    expect(row.started_at).not.toBeNull();
    expect(row.ended_at).not.toBeNull();
    expect(w.running()).toEqual([]);

    const envs = await fakeEnvironments(ws.config, ws.id);
    expect(envs).toHaveLength(1);
    expect(envs[0]!.status).toBe('running');
    expect((await stateOf(ws.id)).provider_state).toMatchObject({ environmentId: envs[0]!.id, starts: 1 });

    // A new token, handed to the provider with the agent's name and labels; the old one is gone.
    const [after] = await f.cp.database.sql<{ token_hash: string }[]>`select token_hash from agents where id = ${ws.agentId}`;
    expect(after!.token_hash).not.toBe(before!.token_hash);
    expect(seen).toEqual([`running:http://127.0.0.1:3121|ws-${ws.name}|${JSON.stringify({ workspace: ws.name })}|${after!.token_hash}`]);

    const lines = (await readOperationLogs(f.cp, ws.opId)).map((l) => l.line);
    expect(lines).toEqual(expect.arrayContaining(['pulling the image', 'booting', 'the token is [redacted]']));
    expect(lines.join('\n')).not.toMatch(/vmo_agent|agt_[A-Za-z0-9]{20,}/);
  });

  it('fails an operation whose provider fails, with its message', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { logs: ['trying'], fail: 'quota exceeded in eu-west-1' } });
    engine();
    const row = await opReaches(f, ws.opId, ['succeeded', 'failed', 'canceled']);
    expect(row).toMatchObject({ status: 'failed', error_code: 'provider_failed', error_message: 'quota exceeded in eu-west-1' });
    expect((await readOperationLogs(f.cp, ws.opId)).map((l) => l.line)).toContain('trying');
    // A failed start can be stopped and destroyed.
    const del = await requestOp(f, ws.id, 'delete');
    expect(await opReaches(f, del, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    expect(await fakeEnvironments(ws.config, ws.id)).toHaveLength(0);
  });

  it('cancels a hanging start (canceled), after which stop and delete succeed and leave nothing', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { logs: ['hanging'], hangMs: 120_000 } });
    engine();
    await opReaches(f, ws.opId, ['running']);
    await waitFor('the start to hang', async () => (await readOperationLogs(f.cp, ws.opId)).some((l) => l.line === 'hanging') || undefined);
    await requestCancel(f, ws.opId);
    const canceled = await opReaches(f, ws.opId, ['canceled', 'failed', 'succeeded']);
    expect(canceled).toMatchObject({ status: 'canceled', error_code: 'canceled' });

    const stop = await requestOp(f, ws.id, 'stop');
    expect(await opReaches(f, stop, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    expect((await fakeEnvironments(ws.config, ws.id)).map((e) => e.status)).toEqual(['stopped']);
    const del = await requestOp(f, ws.id, 'delete');
    expect(await opReaches(f, del, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    expect(await fakeEnvironments(ws.config, ws.id)).toHaveLength(0);
    const after = await stateOf(ws.id);
    expect(after.deleted_at).not.toBeNull();
    expect(after.provider_state).toBeNull();
    const [agent] = await f.cp.database.sql<{ revoked_at: Date | null }[]>`select revoked_at from agents where id = ${ws.agentId}`;
    expect(agent!.revoked_at).not.toBeNull();
  });

  it('fails an operation with no progress for the timeout "timed out", and the workspace can be deleted', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { hangMs: 120_000 } });
    engine({ timeoutMs: 1_500 });
    const row = await opReaches(f, ws.opId, ['failed', 'succeeded', 'canceled']);
    expect(row).toMatchObject({ status: 'failed', error_code: 'timed_out', error_message: 'timed out' });
    const del = await requestOp(f, ws.id, 'delete');
    expect(await opReaches(f, del, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
  });

  it('restarts (stopped then running) and rebuilds onto the template’s current version, passing the state along', async () => {
    const ws = await fakeWorkspace(f);
    engine();
    await opReaches(f, ws.opId, ['succeeded']);
    const restart = await requestOp(f, ws.id, 'restart');
    expect(await opReaches(f, restart, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    expect((await fakeCalls(ws.config, ws.id)).map((c) => c.desired)).toEqual(['running', 'stopped', 'running']);
    expect((await stateOf(ws.id)).provider_state).toMatchObject({ starts: 2 });

    await f.cp.database.sql`insert into template_versions (template_id, version, provider, config) values (${ws.templateId}, 2, 'fake', ${JSON.stringify({ ...ws.config, script: { converge_running: { logs: ['version two'] } } })}::jsonb)`;
    await f.cp.database.sql`update templates set current_version = 2 where id = ${ws.templateId}`;
    const rebuild = await requestOp(f, ws.id, 'rebuild');
    expect(await opReaches(f, rebuild, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    expect((await stateOf(ws.id)).template_version).toBe(2);
    expect((await readOperationLogs(f.cp, rebuild)).map((l) => l.line)).toContain('version two');
    expect(await fakeEnvironments(ws.config, ws.id)).toHaveLength(1);
  });

  it('takes a snapshot of a stopped workspace and restores it; a provider without snapshots fails snapshot_unsupported', async () => {
    const ws = await fakeWorkspace(f);
    engine();
    await opReaches(f, ws.opId, ['succeeded']);
    const stop = await requestOp(f, ws.id, 'stop');
    await opReaches(f, stop, ['succeeded']);
    const snapId = newId('snp');
    await f.cp.database.sql`insert into workspace_snapshots (id, workspace_id, name) values (${snapId}, ${ws.id}, 'before-upgrade')`;
    const snap = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId });
    expect(await opReaches(f, snap, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    const [row] = await f.cp.database.sql<{ status: string; size_bytes: string; provider_ref: Record<string, unknown> }[]>`select status, size_bytes, provider_ref from workspace_snapshots where id = ${snapId}`;
    expect(row).toMatchObject({ status: 'ready', provider_ref: { file: expect.any(String) } });
    expect(Number(row!.size_bytes)).toBeGreaterThan(0);
    const restore = await requestOp(f, ws.id, 'restore', { snapshotId: snapId });
    expect(await opReaches(f, restore, ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
    expect((await stateOf(ws.id)).provider_state).toMatchObject({ environmentId: expect.any(String) });

    await Promise.all(engines.splice(0).map((e) => e.stop()));
    const { snapshot: _s, restore: _r, deleteSnapshot: _d, ...noSnapshots } = fakeProvider();
    engine({ providerFor: () => noSnapshots });
    const snapId2 = newId('snp');
    await f.cp.database.sql`insert into workspace_snapshots (id, workspace_id, name) values (${snapId2}, ${ws.id}, 'second')`;
    const snap2 = await requestOp(f, ws.id, 'snapshot', { snapshotId: snapId2 });
    expect(await opReaches(f, snap2, ['succeeded', 'failed'])).toMatchObject({ status: 'failed', error_code: 'snapshot_unsupported' });
    const [row2] = await f.cp.database.sql<{ status: string }[]>`select status from workspace_snapshots where id = ${snapId2}`;
    expect(row2!.status).toBe('failed');
  });

  it('streams an operation’s log lines live to a follower, which ends with the operation', async () => {
    const ws = await fakeWorkspace(f, { converge_running: { logs: ['one', 'two'], hangMs: 1_500 } });
    const bus = BusSubscriber.open(TEST_REDIS_URL, f.cp.keys);
    try {
      const got: OperationLogLine[] = [];
      const follow = (async () => {
        const it = followOperationLogs(f.cp, bus, ws.opId, { pollMs: 5_000 });
        for (;;) {
          const next = await it.next();
          if (next.done) return next.value;
          got.push(next.value);
        }
      })();
      engine();
      const end = await follow;
      expect(end).toEqual({ status: 'succeeded' });
      const lines = got.map((l) => l.line);
      expect(lines).toEqual(expect.arrayContaining(['one', 'two']));
      expect(got.map((l) => l.seq)).toEqual([...got.map((l) => l.seq)].sort((a, b) => a - b));
      expect(lines).toEqual((await readOperationLogs(f.cp, ws.opId)).map((l) => l.line));
    } finally {
      bus.close();
    }
  });

  it('says a workspace is connecting, then unhealthy without its agent, healthy with it, none when stopped', async () => {
    const ws = await fakeWorkspace(f, {}, { agentConnectTimeoutMs: 1_000 });
    engine();
    await opReaches(f, ws.opId, ['succeeded']);
    expect(await readWorkspaceHealth(f.cp, ws.id)).toBe('connecting');
    await waitFor('unhealthy past agentConnectTimeoutMs', async () => (await readWorkspaceHealth(f.cp, ws.id)) === 'unhealthy' || undefined, 10_000, 100);
    await f.cp.redis.set(f.cp.keys.agentPresence(ws.agentId), '1', 'PX', 60_000);
    expect(await readWorkspaceHealth(f.cp, ws.id)).toBe('healthy');
    await f.cp.redis.del(f.cp.keys.agentPresence(ws.agentId));
    const stop = await requestOp(f, ws.id, 'stop');
    await opReaches(f, stop, ['succeeded']);
    expect(await readWorkspaceHealth(f.cp, ws.id)).toBe('none');

    const ended = new Date('2026-01-01T00:00:00Z');
    const at = (ms: number) => new Date(ended.getTime() + ms);
    expect(workspaceHealth({ status: 'running', presence: 'unknown', startEndedAt: ended, agentConnectTimeoutMs: 1000, now: at(5000) })).toBe('connecting');
    expect(workspaceHealth({ status: 'starting', presence: 'offline', startEndedAt: null, agentConnectTimeoutMs: 1000, now: at(5000) })).toBe('connecting');
    expect(workspaceHealth({ status: 'failed', presence: 'online', startEndedAt: ended, agentConnectTimeoutMs: 1000 })).toBe('none');
  });
});
