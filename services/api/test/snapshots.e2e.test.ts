/**
 * Issue 18, snapshots: POST/GET /v1/workspaces/{id}/snapshots, GET/DELETE …/{sid} and
 * POST …/{sid}/restore on the API in process. Workspaces and their operation history are written
 * with SQL, and the engine's part (ending an operation, marking a snapshot ready or failed) is
 * played with SQL too: this checks the API's shape and rules, not a provider. A snapshot needs a
 * stopped workspace (409 while running), a provider that can take one (409 snapshot_unsupported),
 * a free name (409 snapshot_exists); a refusal leaves no row and no operation behind. Only the
 * owner and admins see any of it (404 otherwise). Every answer is checked against its contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots, restoreSnapshot, type ApiRoute } from '@vmo/shared/api';
import { newId } from '@vmo/shared/ids';
import { createApiToken, createUser, findUser } from '@vmo/shared/users';
import { SNAPSHOT_SUPPORT } from '@vmo/shared/workspaces';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

describe('the snapshots API (in-process)', () => {
  let fixture: InProcessApp;
  /** The served OpenAPI document: every answer's status must be in it. */
  let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  let alice: string;
  let bob: string;
  const ws = { box: newId('wks'), live: newId('wks'), cmd: newId('wks') };
  let sql: InProcessApp['cp']['database']['sql'];

  const call = async (route: ApiRoute, method: string, path: string, body?: unknown, token: string = alice, raw?: string) => {
    const res = await fixture.app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : null;
    const documented = route.responses[res.status];
    expect(documented, `${method} ${route.path} answered ${res.status}, which its contract does not list: ${text}`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema as z.ZodType | undefined;
    expect(doc.paths[route.path]?.[route.method]?.responses[String(res.status)], `${route.path} ${res.status} not in the served document`).toBeDefined();
    if (schema) expect(schema.safeParse(parsed).success, `${route.path} ${res.status}: ${text}`).toBe(true);
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const snap = (w: string, body: unknown, token = alice) => call(createSnapshot, 'POST', `/v1/workspaces/${w}/snapshots`, body, token);
  const restore = (w: string, sid: string, body?: unknown, token = alice) => call(restoreSnapshot, 'POST', `/v1/workspaces/${w}/snapshots/${sid}/restore`, body, token);
  /** What a refused request could have left behind. */
  const state = async () => ({
    snapshots: await sql`select id, name, status from workspace_snapshots order by id`,
    operations: await sql`select id, type, status from workspace_operations order by id`,
  });
  /** The engine's part: end the operation, and the snapshot with it. */
  const finish = async (opId: string, opStatus: 'succeeded' | 'failed', snapshot?: { id: string; status: 'ready' | 'failed' }) => {
    await sql`update workspace_operations set status = ${opStatus}, started_at = clock_timestamp(), ended_at = clock_timestamp() where id = ${opId}`;
    if (snapshot) await sql`update workspace_snapshots set status = ${snapshot.status}, size_bytes = ${snapshot.status === 'ready' ? 1234 : null}, provider_ref = '{"path":"/x"}'::jsonb where id = ${snapshot.id}`;
  };

  beforeAll(async () => {
    fixture = await startInProcessApp('snapshots_api');
    const { cp } = fixture;
    sql = cp.database.sql;
    doc = (await (await fixture.app.request('/v1/openapi.json')).json()) as typeof doc;
    for (const name of ['alice', 'bob']) await createUser(cp, { name, role: 'operator', email: null });
    const a = (await findUser(cp, 'alice'))!;
    alice = (await createApiToken(cp, { user: a, name: 'alice', createdBy: 'test' })).token;
    bob = (await createApiToken(cp, { user: (await findUser(cp, 'bob'))!, name: 'bob', createdBy: 'test' })).token;
    const fake = newId('tpl');
    const command = newId('tpl');
    await sql`insert into templates (id, name) values (${fake}, 'fake-tpl'), (${command}, 'cmd-tpl')`;
    await sql`insert into template_versions (template_id, version, provider) values (${fake}, 1, 'fake'), (${command}, 1, 'command')`;
    await sql`
      insert into workspaces (id, name, owner_id, owner_name, template_id, template_version) values
        (${ws.box}, 'box', ${a.id}, 'alice', ${fake}, 1), (${ws.live}, 'live', ${a.id}, 'alice', ${fake}, 1), (${ws.cmd}, 'cmdbox', ${a.id}, 'alice', ${command}, 1)`;
    const op = (w: string, type: string, minutesAgo: number) =>
      sql`insert into workspace_operations (id, workspace_id, type, status, created_at, started_at, ended_at)
          values (${newId('wop')}, ${w}, ${type}, 'succeeded', clock_timestamp() - ${minutesAgo} * interval '1 minute', clock_timestamp() - ${minutesAgo} * interval '1 minute', clock_timestamp() - ${minutesAgo} * interval '1 minute')`;
    for (const w of [ws.box, ws.live, ws.cmd]) await op(w, 'create', 10);
    for (const w of [ws.box, ws.cmd]) await op(w, 'stop', 5);
  }, 60_000);
  afterAll(() => fixture?.close());

  let first: { id: string; operationId: string };

  it('takes a snapshot of a stopped workspace: 202 with the pending snapshot and its operation (input {snapshotId}), listed and read', async () => {
    const res = await snap('box', { name: 'before-upgrade' });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const { snapshot, operation } = res.body;
    expect(snapshot).toMatchObject({ workspaceId: ws.box, name: 'before-upgrade', status: 'pending', sizeBytes: null, operationId: operation.id, createdBy: 'alice' });
    expect(snapshot.id).toMatch(/^snp_[0-9a-z]{20}$/);
    expect(operation).toMatchObject({ workspaceId: ws.box, type: 'snapshot', status: 'pending', reason: 'user' });
    expect(res.headers.get('location')).toBe(`/v1/workspaces/${ws.box}/snapshots/${snapshot.id}`);
    const [row] = await sql`select input from workspace_operations where id = ${operation.id}`;
    expect(row!.input).toEqual({ snapshotId: snapshot.id });
    first = { id: snapshot.id, operationId: operation.id };

    // While it is being taken the workspace is busy: a second one is refused, leaving nothing.
    const before = await state();
    const busy = await snap(ws.box, { name: 'another' });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('workspace_busy');
    expect(await state()).toEqual(before);

    await finish(operation.id, 'succeeded', { id: snapshot.id, status: 'ready' });
    const list = await call(listSnapshots, 'GET', `/v1/workspaces/${ws.box}/snapshots`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ id: snapshot.id, status: 'ready', sizeBytes: 1234 });
    const one = await call(getSnapshot, 'GET', `/v1/workspaces/box/snapshots/${snapshot.id}`);
    expect(one.body).toEqual(list.body.items[0]);
    expect(one.body).not.toHaveProperty('providerRef'); // the provider's data (paths) stays inside
  });

  it('refuses, leaving no row and no operation: a duplicate name, a running workspace, a provider without snapshots', async () => {
    expect(SNAPSHOT_SUPPORT).toEqual({ fake: true, netns: true, command: false, docker: false });
    const before = await state();
    const dup = await snap(ws.box, { name: 'before-upgrade' });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'snapshot_exists', details: { field: 'name' } });
    const running = await snap(ws.live, { name: 'x' });
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('invalid_transition');
    const unsupported = await snap(ws.cmd, { name: 'x' });
    expect(unsupported.status).toBe(409);
    expect(unsupported.body.error.code).toBe('snapshot_unsupported');
    expect(unsupported.body.error.message).toContain('command');
    expect(await state()).toEqual(before);
  });

  it('restores a ready snapshot into its stopped workspace (a restore operation); not a failed one, not into a running workspace', async () => {
    // A failed snapshot cannot be restored.
    const second = await snap(ws.box, { name: 'broken' });
    expect(second.status).toBe(202);
    await finish(second.body.operation.id, 'failed', { id: second.body.snapshot.id, status: 'failed' });
    const failed = await restore(ws.box, second.body.snapshot.id);
    expect(failed.status).toBe(409);
    expect(failed.body.error.code).toBe('invalid_transition');

    const before = await state();
    for (const into of [{ name: 'Not A Name' }, { name: 'copy', extra: 1 }, 'that', 7]) {
      const bad = await restore(ws.box, first.id, { into });
      expect(bad.status, JSON.stringify(into)).toBe(400);
      expect(bad.body.error.details.field).toMatch(/^into/);
    }
    expect((await restore(ws.box, second.body.snapshot.id, { into: { name: 'copy' } })).body.error.code).toBe('invalid_transition'); // a failed snapshot
    expect((await restore(ws.box, first.id, { into: { name: 'live' } })).body.error.code).toBe('workspace_exists');
    expect(await state()).toEqual(before);

    // Into a new workspace: alice's, from the same template, whose create operation carries the snapshot.
    const copy = await restore(ws.box, first.id, { into: { name: 'copy' } });
    expect(copy.status, JSON.stringify(copy.body)).toBe(202);
    expect(copy.body.workspace).toMatchObject({ name: 'copy', ownerName: 'alice', status: 'pending' });
    expect(copy.body.operation).toMatchObject({ workspaceId: copy.body.workspace.id, type: 'create', status: 'pending' });
    expect(copy.headers.get('location')).toBe(`/v1/workspaces/${copy.body.workspace.id}`);
    const [created] = await sql`select input from workspace_operations where id = ${copy.body.operation.id}`;
    expect(created!.input).toEqual({ snapshotId: first.id });
    // While that create is pending the snapshot cannot be deleted from its own workspace either.
    const held = await call(deleteSnapshot, 'DELETE', `/v1/workspaces/${ws.box}/snapshots/${first.id}`);
    expect(held.body.error.code).toBe('workspace_busy');
    await finish(copy.body.operation.id, 'succeeded');

    const res = await restore(ws.box, first.id); // no body: into this workspace
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.operation).toMatchObject({ workspaceId: ws.box, type: 'restore', status: 'pending' });
    expect(res.headers.get('location')).toBe(`/v1/operations/${res.body.operation.id}`);
    const [row] = await sql`select input from workspace_operations where id = ${res.body.operation.id}`;
    expect(row!.input).toEqual({ snapshotId: first.id });

    // In use by the restore: it cannot be deleted, and nothing else can start meanwhile.
    const inUse = await call(deleteSnapshot, 'DELETE', `/v1/workspaces/${ws.box}/snapshots/${first.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.code).toBe('workspace_busy');
    expect((await restore(ws.box, first.id, { into: 'this' })).body.error.code).toBe('workspace_busy');
    await finish(res.body.operation.id, 'succeeded');

    // A running workspace: no restore (a snapshot of another workspace is not found here at all).
    expect((await restore(ws.live, first.id)).status).toBe(404);
    await sql`update workspace_snapshots set workspace_id = ${ws.live} where id = ${second.body.snapshot.id}`;
    await sql`update workspace_snapshots set status = 'ready' where id = ${second.body.snapshot.id}`;
    const running = await restore(ws.live, second.body.snapshot.id);
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('invalid_transition');
  });

  it('deletes a snapshot (hidden at once; its record stays `deleting` until a worker deleted its data), then it is gone', async () => {
    const res = await call(deleteSnapshot, 'DELETE', `/v1/workspaces/${ws.box}/snapshots/${first.id}`);
    expect(res.status).toBe(204);
    expect((await sql`select status from workspace_snapshots where id = ${first.id}`)[0]).toMatchObject({ status: 'deleting' });
    expect((await call(getSnapshot, 'GET', `/v1/workspaces/${ws.box}/snapshots/${first.id}`)).status).toBe(404);
    expect((await call(deleteSnapshot, 'DELETE', `/v1/workspaces/${ws.box}/snapshots/${first.id}`)).status).toBe(404);
    expect((await call(listSnapshots, 'GET', `/v1/workspaces/${ws.box}/snapshots`)).body.items).toEqual([]);
    // Its name is free again.
    const again = await snap(ws.box, { name: 'before-upgrade' });
    expect(again.status).toBe(202);
    await finish(again.body.operation.id, 'succeeded', { id: again.body.snapshot.id, status: 'ready' });
    first = { id: again.body.snapshot.id, operationId: again.body.operation.id };
  });

  it('answers 400 naming the field for bad input, with nothing written', async () => {
    const before = await state();
    for (const [body, field] of [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'a b' }, 'name'],
      [{ name: '../etc' }, 'name'],
      [{ name: 'x'.repeat(64) }, 'name'],
      [{ name: 7 }, 'name'],
    ] as const) {
      const res = await snap(ws.box, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details?.field ?? res.body.error.message, JSON.stringify(body)).toContain(field);
    }
    const extra = await snap(ws.box, { name: 'ok', extra: 1 }); // the body is strict: an unknown field is refused, named
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toContain('extra');
    const notJson = await call(createSnapshot, 'POST', `/v1/workspaces/${ws.box}/snapshots`, undefined, alice, '{"name":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');
    expect(await state()).toEqual(before);
  });

  it("hides a workspace's snapshots from anyone but its owner and admins: 404, as for none", async () => {
    const before = await state();
    const paths: [ApiRoute, string, string, unknown?][] = [
      [listSnapshots, 'GET', `/v1/workspaces/${ws.box}/snapshots`],
      [createSnapshot, 'POST', `/v1/workspaces/${ws.box}/snapshots`, { name: 'mine-now' }],
      [getSnapshot, 'GET', `/v1/workspaces/${ws.box}/snapshots/${first.id}`],
      [deleteSnapshot, 'DELETE', `/v1/workspaces/${ws.box}/snapshots/${first.id}`],
      [restoreSnapshot, 'POST', `/v1/workspaces/${ws.box}/snapshots/${first.id}/restore`, {}],
    ];
    for (const [route, method, path, body] of paths) {
      const res = await call(route, method, path, body, bob);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    // By name: bob has no workspace "box".
    expect((await call(listSnapshots, 'GET', '/v1/workspaces/box/snapshots', undefined, bob)).status).toBe(404);
    expect(await state()).toEqual(before);
    // Unknown workspace, unknown or malformed snapshot id.
    expect((await call(listSnapshots, 'GET', `/v1/workspaces/${newId('wks')}/snapshots`)).status).toBe(404);
    expect((await call(getSnapshot, 'GET', `/v1/workspaces/${ws.box}/snapshots/${newId('snp')}`)).status).toBe(404);
    expect((await call(getSnapshot, 'GET', `/v1/workspaces/${ws.box}/snapshots/nope`)).status).toBe(404);
    // An admin sees them.
    const admin = await call(listSnapshots, 'GET', `/v1/workspaces/${ws.box}/snapshots`, undefined, fixture.token);
    expect(admin.status).toBe(200);
    expect(admin.body.items.map((s: { id: string }) => s.id)).toContain(first.id);
  });
});
