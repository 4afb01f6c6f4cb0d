import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor, type ApiClient } from '@vmo/testkit';
// The netns tests' own clean-up (namespaces, veths, cgroups by the test's prefix, then the temp dir).
import { cleanUpNetnsTest, netnsesWithPrefix, netnsTestPrefix } from '@vmo/testkit';

/**
 * The README's "Workspaces" walkthrough, step by step, on the real system (API and worker
 * processes, Postgres, Redis) and the real netns provider, so that what the README shows stays
 * true: an admin writes a netns template with a TTL, an activity bump, an idle timeout and a cost;
 * a user creates a workspace (202 + its create operation) and follows the operation to
 * `succeeded`; it is running and healthy; a job targeting it by name runs in its sandbox; she
 * opens a shell in it with the real `vmo shell workspace:`; the TTL stops it (an operation with reason
 * `autostop` and no actor); a snapshot of the stopped workspace; a file changed by a job; stop,
 * restore, start: the file is back; the usage report counts the running intervals of its
 * operations, at costPerHour.
 *
 * The TTL is the shortest a template takes (60 s), so this file takes about two minutes.
 */
const TTL_MS = 60_000;
const COST_PER_HOUR = 0.12;
const VMO_BIN = fileURLToPath(new URL('../../../packages/cli/bin/vmo.js', import.meta.url));

describe('the README workspaces walkthrough (real system, netns provider)', () => {
  const prefix = netnsTestPrefix();
  let tmp: string | undefined;
  let system: TestSystem;
  let alice: ApiClient;

  beforeAll(async () => {
    tmp = mkdtempSync('/tmp/vmo-netns-');
    // As `npm start` does: the API on every address (the sandboxes reach it at their veth's host end).
    system = await TestSystem.start({ label: 'ws_walkthrough', workers: 0, env: { VMO_HOST: '0.0.0.0' } });
    await system.startWorker({
      VMO_WORKSPACE_AGENT_URL: system.apiUrls[0]!,
      VMO_NETNS_ROOT: join(tmp, 'workspaces'),
      VMO_NETNS_STATE_DIR: join(tmp, 'state'),
      VMO_NETNS_NAME_PREFIX: prefix,
      VMO_NETNS_STOP_GRACE_MS: '5000',
    });
    expect((await system.client.request('POST', '/v1/users', { name: 'alice', role: 'operator' })).status).toBe(201);
    const token = await system.client.request('POST', '/v1/tokens', { name: 'laptop', user: 'alice' });
    expect(token.status, token.text).toBe(201);
    alice = system.clientFor(0, token.body.token);
  }, 120_000);

  afterAll(async () => {
    try {
      cleanUpNetnsTest(prefix, tmp);
    } finally {
      await system?.stop();
    }
  });

  const workspace = async () => {
    const res = await alice.request('GET', '/v1/workspaces/alice-dev');
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const operationEnds = (id: string, timeoutMs = 60_000) =>
    waitFor(`operation ${id} to end`, async () => {
      const res = await alice.request('GET', `/v1/operations/${id}`);
      expect(res.status, res.text).toBe(200);
      return ['succeeded', 'failed', 'canceled'].includes(res.body.status) ? res.body : undefined;
    }, timeoutMs, 200);
  /** POST an action, follow its operation to its end: it must succeed. */
  const act = async (path: string, body?: unknown) => {
    const res = await alice.request('POST', `/v1/workspaces/alice-dev/${path}`, body);
    expect(res.status, res.text).toBe(202);
    const op = await operationEnds(res.body.operation.id);
    expect(op.status, `${path}: ${JSON.stringify(op)}\n${system.logs(3000)}`).toBe('succeeded');
    return res.body;
  };
  const healthy = () =>
    waitFor('the workspace running and healthy', async () => {
      const ws = await workspace();
      return ws.status === 'running' && ws.health === 'healthy' ? ws : undefined;
    }, 60_000, 200);
  /** A job on {"type":"workspace","workspace":"alice-dev"} as alice: its stdout once it succeeded. */
  const run = async (command: string) => {
    const res = await alice.request('POST', '/v1/jobs', { command, target: { type: 'workspace', workspace: 'alice-dev' } });
    expect(res.status, res.text).toBe(201);
    const ended = await alice.waitForEnd(res.body.id, 60_000);
    const out = (await alice.logs(res.body.id, '?stream=stdout')).toString();
    expect(ended.status, out).toBe('succeeded');
    return out;
  };

  it('template → workspace → job and shell → TTL autostop → snapshot, change, restore → usage', async () => {
    // 1. The admin's template.
    const tpl = await system.client.request('POST', '/v1/templates', {
      name: 'sandbox', provider: 'netns', config: { memoryMiB: 1024 },
      defaultTtlMs: TTL_MS, activityBumpMs: 5_000, idleTimeoutMs: 1_800_000, costPerHour: COST_PER_HOUR,
    });
    expect(tpl.status, tpl.text).toBe(201);
    expect(tpl.body).toMatchObject({ name: 'sandbox', version: 1, provider: 'netns', defaultTtlMs: TTL_MS, costPerHour: COST_PER_HOUR });

    // 2. Alice's workspace: 202 with the workspace (pending) and its create operation.
    const created = await alice.request('POST', '/v1/workspaces', { name: 'alice-dev', template: 'sandbox' });
    expect(created.status, created.text).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/workspaces/${created.body.workspace.id}`);
    expect(created.body.workspace).toMatchObject({ name: 'alice-dev', status: 'pending', ownerName: 'alice', agent: { name: expect.stringMatching(/^ws-alice-dev-/) } });
    expect(created.body.operation).toMatchObject({ type: 'create', status: 'pending', reason: 'user' });
    const id = created.body.workspace.id as string;

    const op = await operationEnds(created.body.operation.id, 120_000);
    expect(op.status, `${JSON.stringify(op)}\n${system.logs(4000)}`).toBe('succeeded');
    expect(op.logs.map((l: { line: string }) => l.line).join('\n')).toMatch(/started the agent in /);
    // Its log as NDJSON, as the README follows it: lines, then the end.
    const ndjson = await alice.request('GET', `/v1/operations/${op.id}/logs?follow=true`);
    expect(ndjson.status).toBe(200);
    expect(String(ndjson.text).trim().split('\n').map((l) => JSON.parse(l)).at(-1)).toEqual({ end: { status: 'succeeded' } });

    await healthy();
    // The lifecycle loop gives it its deadline (end of the create + TTL) within a pass.
    const ready = await waitFor('its deadline', async () => ((await workspace()).deadlineAt ? workspace() : undefined), 10_000, 200);
    expect(ready).toMatchObject({ templateName: 'sandbox', templateVersion: 1, agent: { online: true }, resources: { netns: expect.stringMatching(new RegExp(`^${prefix}-`)) } });
    expect(Date.parse(ready.deadlineAt) - Date.parse(op.endedAt)).toBe(TTL_MS);
    expect(netnsesWithPrefix(prefix)).toHaveLength(1);

    // A second action while one is active: 409 workspace_busy; what the status does not allow: 409 invalid_transition.
    const snapRunning = await alice.request('POST', '/v1/workspaces/alice-dev/snapshots', { name: 'too-soon' });
    expect(snapRunning.status, snapRunning.text).toBe(409);
    expect(snapRunning.body.error.code).toBe('invalid_transition');

    // 3. A job on it, by the workspace's name: in its sandbox (hostname, /workspace).
    expect(await run('hostname; pwd; echo draft-1 > notes.txt; cat notes.txt')).toBe('alice-dev\n/workspace\ndraft-1\n');

    // 4. A shell in it, as alice, with the real vmo (GET /v1/workspaces/{id}/shell: no policy needed for her own).
    const shell = await promisify(execFile)(process.execPath, [VMO_BIN, 'shell', 'workspace:alice-dev', '--', 'sh', '-c', 'hostname; cat /workspace/notes.txt'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp!, VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: alice.token! },
      timeout: 60_000,
    });
    expect(shell.stdout.replace(/\r/g, '')).toBe('alice-dev\ndraft-1\n');

    // 5. Nobody stops it: at its deadline the lifecycle loop does (reason autostop, no actor).
    const autostop = await waitFor('the TTL autostop', async () => {
      const res = await alice.request('GET', '/v1/operations?workspace=alice-dev&type=stop');
      expect(res.status, res.text).toBe(200);
      return res.body.items[0]?.status === 'succeeded' ? res.body.items[0] : undefined;
    }, TTL_MS + 60_000, 500);
    expect(autostop).toMatchObject({ type: 'stop', reason: 'autostop', actor: null, workspaceName: 'alice-dev' });
    expect(await workspace()).toMatchObject({ status: 'stopped', health: 'none', latestOperation: { id: autostop.id, reason: 'autostop' } });
    expect(netnsesWithPrefix(prefix)).toEqual([]);

    // 6. A snapshot of the stopped workspace.
    const snap = await act('snapshots', { name: 'draft-1' });
    expect(snap.snapshot).toMatchObject({ name: 'draft-1', status: 'pending', operationId: snap.operation.id });
    const snapshots = await alice.request('GET', '/v1/workspaces/alice-dev/snapshots');
    expect(snapshots.body.items).toMatchObject([{ id: snap.snapshot.id, name: 'draft-1', status: 'ready', sizeBytes: expect.any(Number) }]);

    // 7. Changed: started, a job rewrites and adds files, stopped.
    await act('start');
    await healthy();
    expect(await run('echo draft-2 > notes.txt; touch scratch.tmp; ls; cat notes.txt')).toBe('notes.txt\nscratch.tmp\ndraft-2\n');
    await act('stop');

    // 8. Restored from the snapshot, started: the workspace directory is as it was.
    const restored = await act(`snapshots/${snap.snapshot.id}/restore`);
    const restoreOp = await alice.request('GET', `/v1/operations/${restored.operation.id}`);
    expect(restoreOp.body).toMatchObject({ type: 'restore', status: 'succeeded', input: { snapshotId: snap.snapshot.id } });
    await act('start');
    await healthy();
    expect(await run('ls; cat notes.txt')).toBe('notes.txt\ndraft-1\n');
    await act('stop');

    // 9. Usage: the running intervals of its operations (end of create/start → start of the next stop), at costPerHour.
    const ops = await alice.request('GET', '/v1/operations?workspace=alice-dev&limit=100');
    const history = [...ops.body.items].reverse() as Array<{ type: string; status: string; startedAt: string; endedAt: string }>;
    let expected = 0;
    let upSince: number | null = null;
    for (const o of history) {
      if (['create', 'start'].includes(o.type) && o.status === 'succeeded') upSince = Date.parse(o.endedAt);
      if (o.type === 'stop' && upSince !== null) {
        expected += (Date.parse(o.startedAt) - upSince) / 1000;
        upSince = null;
      }
    }
    expect(history.map((o) => `${o.type}:${o.status}`)).toEqual(['create:succeeded', 'stop:succeeded', 'snapshot:succeeded', 'start:succeeded', 'stop:succeeded', 'restore:succeeded', 'start:succeeded', 'stop:succeeded']);
    expect(expected).toBeGreaterThan(TTL_MS / 1000);

    const usage = await alice.request('GET', '/v1/usage?workspace=alice-dev');
    expect(usage.status, usage.text).toBe(200);
    expect(usage.body.workspaces).toHaveLength(1);
    const mine = usage.body.workspaces[0];
    expect(mine).toMatchObject({ workspaceId: id, name: 'alice-dev', ownerName: 'alice', deleted: false, costPerHour: COST_PER_HOUR });
    expect(mine.runningSeconds).toBeGreaterThan(0);
    expect(Math.abs(mine.runningSeconds - expected)).toBeLessThan(0.01);
    expect(Math.abs(mine.cost - (COST_PER_HOUR * mine.runningSeconds) / 3600)).toBeLessThan(2e-6);
    expect(mine.jobSeconds).toBeGreaterThan(0);
    expect(mine.outputBytes).toBeGreaterThan(0);
    expect(usage.body.totals).toMatchObject({ runningSeconds: mine.runningSeconds, cost: mine.cost });

    // The admin's overview: by status, top users, this month.
    const overview = await system.client.request('GET', '/v1/usage/overview');
    expect(overview.status, overview.text).toBe(200);
    expect(overview.body.workspacesByStatus.stopped).toBe(1);
    expect(overview.body.topUsers[0]).toMatchObject({ ownerName: 'alice', workspaces: 1 });
    expect((await alice.request('GET', '/v1/usage/overview')).status).toBe(403);

    // Clean: delete removes its directory.
    expect((await alice.request('DELETE', '/v1/workspaces/alice-dev')).status).toBe(202);
    // By id a deleted workspace is still shown (status deleted); by name it is gone (404).
    await waitFor('the workspace deleted', async () => ((await alice.request('GET', `/v1/workspaces/${id}`)).body.status === 'deleted' ? true : undefined), 60_000, 250);
    expect((await alice.request('GET', '/v1/workspaces/alice-dev')).status).toBe(404);
    expect(existsSync(join(tmp!, 'workspaces', id))).toBe(false);
  }, 300_000);
});
