/**
 * Issue 18, the workspaces HTTP API on a real system (API process, Postgres, Redis; NO worker, so
 * no engine: operations stay pending unless a test moves them on with SQL, as the engine would).
 * Templates (admins write, versions), workspaces (202 with the create operation, its agent, params
 * enforced, one action at a time, transitions refused by status, status derived from the latest
 * operation, in the view and in ?status= alike), operations (list, get with logs, cancel), access
 * (owner and admins; 404 to others) and the orphan delete. Every answer is checked against its
 * route's contract and the served document; TestSystem.stop() checks the audit rows.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  cancelOperation,
  createTemplate,
  createWorkspace,
  deleteTemplate,
  deleteWorkspace,
  getOperation,
  getTemplate,
  getWorkspace,
  listOperations,
  listTemplates,
  listTemplateVersions,
  listWorkspaces,
  rebuildWorkspace,
  restartWorkspace,
  startWorkspace,
  stopWorkspace,
  updateTemplate,
  updateWorkspace,
  type ApiRoute,
} from '@vmo/shared/api';
import { OPERATION_STATUSES, OPERATION_TYPES, workspaceStatus } from '@vmo/shared/domain';
import { TestSystem, waitFor, type ApiClient, type ApiResponse } from '@vmo/testkit';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

describe('the workspaces API (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let doc: Doc;
  let admin: ApiClient;
  let olga: ApiClient;
  let olgaId: string;
  let pete: ApiClient;
  let vera: ApiClient;

  const token = async (user: string): Promise<string> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'workspaces_api', workers: 0 });
    admin = system.client;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    for (const [name, role] of [['olga', 'operator'], ['pete', 'operator'], ['vera', 'viewer']]) {
      const res = await admin.request('POST', '/v1/users', { name, role });
      expect(res.status, res.text).toBe(201);
      if (name === 'olga') olgaId = res.body.id;
    }
    olga = system.clientFor(0, await token('olga'));
    pete = system.clientFor(0, await token('pete'));
    vera = system.clientFor(0, await token('vera'));
    doc = (await admin.request('GET', '/v1/openapi.json')).body as Doc;
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  /** Any request, its answer checked against `route`'s contract and the served document. */
  async function call(route: ApiRoute, path: string, body?: unknown, client: ApiClient = admin): Promise<ApiResponse> {
    const res = await client.request(route.method.toUpperCase(), path, body);
    const documented = route.responses[res.status];
    expect(documented, `${route.method} ${route.path} answered ${res.status}, which its contract does not list: ${res.text}`).toBeDefined();
    expect(doc.paths[route.path]?.[route.method]?.responses[String(res.status)], `${route.path} ${res.status} not in the served document`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema as z.ZodType | undefined;
    if (schema) {
      const parsed = schema.safeParse(res.body);
      expect(parsed.success, `${route.method} ${route.path} ${res.status}: ${parsed.error?.message} in ${res.text}`).toBe(true);
    }
    return res;
  }

  const expectError = (res: ApiResponse, status: number, code: string, field?: string) => {
    expect(res.status, res.text).toBe(status);
    expect(res.body.error.code, res.text).toBe(code);
    if (field !== undefined) expect(res.body.error.details?.field, res.text).toBe(field);
  };

  /** The engine's part, by hand: the workspace's active operation ends with `status`. */
  const endActive = async (workspaceId: string, status: 'succeeded' | 'failed' | 'canceled') => {
    const rows = await sql`
      update workspace_operations set status = ${status}, started_at = coalesce(started_at, clock_timestamp()), ended_at = clock_timestamp()
      where workspace_id = ${workspaceId} and status in ('pending', 'running', 'canceling') returning id`;
    expect(rows).toHaveLength(1);
  };

  const devBox = {
    name: 'dev-box',
    provider: 'fake',
    config: { script: { converge_running: { logs: ['booting'] } } },
    params: [{ name: 'size', default: 'small' }, { name: 'region', required: true, description: 'where it runs' }, { name: 'note' }],
    defaultTtlMs: 3_600_000,
    costPerHour: 0.25,
    labels: { team: 'core' },
  };
  let templateId: string;

  describe('templates', () => {
    it('an admin creates one (version 1), anyone with workspaces:read reads it; others may not write', async () => {
      const res = await call(createTemplate, '/v1/templates', devBox);
      expect(res.status, res.text).toBe(201);
      templateId = res.body.id;
      expect(res.headers.get('location')).toBe(`/v1/templates/${templateId}`);
      expect(res.body).toMatchObject({ name: 'dev-box', currentVersion: 1, version: 1, provider: 'fake', defaultTtlMs: 3_600_000, costPerHour: 0.25, agentConnectTimeoutMs: 120_000, idleTimeoutMs: null });
      expectError(await call(createTemplate, '/v1/templates', { ...devBox, name: 'olgas' }, olga), 403, 'forbidden');
      expectError(await call(createTemplate, '/v1/templates', { ...devBox, name: 'veras' }, vera), 403, 'forbidden');
      expectError(await call(createTemplate, '/v1/templates', devBox), 409, 'template_exists', 'name');
      for (const client of [olga, vera]) {
        expect((await call(getTemplate, '/v1/templates/dev-box', undefined, client)).body.id).toBe(templateId);
        expect((await call(listTemplates, '/v1/templates', undefined, client)).body.items.map((t: { name: string }) => t.name)).toContain('dev-box');
      }
      expectError(await call(updateTemplate, `/v1/templates/${templateId}`, { defaultTtlMs: 60_000 }, olga), 403, 'forbidden');
      expectError(await call(deleteTemplate, `/v1/templates/${templateId}`, undefined, olga), 403, 'forbidden');
    });

    it('bad input is a 400 naming the field, the provider config included, and writes nothing', async () => {
      const before = await sql`select count(*)::int as n from template_versions`;
      const cases: [unknown, string][] = [
        [{ ...devBox, name: 'Bad Name' }, 'name'],
        [{ ...devBox, name: 'x1', provider: 'vmware' }, 'provider'],
        [{ ...devBox, name: 'x2', defaultTtlMs: -1 }, 'defaultTtlMs'],
        [{ ...devBox, name: 'x3', config: { script: { converge_running: { hangMs: 'long' } } } }, 'config.script.converge_running.hangMs'],
        [{ name: 'x4', provider: 'docker', config: {} }, 'config.image'],
        [{ name: 'x5', provider: 'command', config: { create: 'a', start: 'b', stop: 'c', delete: 'd' } }, 'config.status'],
        [{ ...devBox, name: 'x6', params: [{ name: 'a' }, { name: 'a' }] }, 'params.1.name'],
        [{ ...devBox, name: 'x7', bogus: 1 }, 'bogus'],
      ];
      for (const [body, field] of cases) {
        const res = await call(createTemplate, '/v1/templates', body);
        expectError(res, 400, 'validation_failed');
        expect(`${res.body.error.details?.field} ${res.body.error.message}`, res.text).toContain(field);
      }
      expect(await sql`select count(*)::int as n from template_versions`).toEqual(before);
    });

    it('PATCH makes a new version and keeps the old one; a name alone makes none', async () => {
      const res = await call(updateTemplate, `/v1/templates/${templateId}`, { defaultTtlMs: 7_200_000, labels: { team: 'core', tier: 'gold' } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ currentVersion: 2, version: 2, defaultTtlMs: 7_200_000, provider: 'fake', costPerHour: 0.25, labels: { tier: 'gold' } });
      expect(res.body.params).toEqual(devBox.params);
      const versions = await call(listTemplateVersions, `/v1/templates/${templateId}/versions`);
      expect(versions.body.items.map((v: { version: number; defaultTtlMs: number }) => [v.version, v.defaultTtlMs])).toEqual([[2, 7_200_000], [1, 3_600_000]]);
      // Back to version 1's TTL for the tests below (version 3).
      expect((await call(updateTemplate, `/v1/templates/${templateId}`, { defaultTtlMs: 3_600_000 })).body.currentVersion).toBe(3);
      const other = (await call(createTemplate, '/v1/templates', { name: 'renamed-a', provider: 'fake' })).body;
      const renamed = await call(updateTemplate, `/v1/templates/${other.id}`, { name: 'renamed-b' });
      expect(renamed.body).toMatchObject({ name: 'renamed-b', currentVersion: 1 });
      expectError(await call(updateTemplate, `/v1/templates/${other.id}`, { name: 'dev-box' }), 409, 'template_exists', 'name');
      expectError(await call(updateTemplate, `/v1/templates/${other.id}`, { provider: 'docker' }), 400, 'validation_failed', 'config.image');
      expect(await call(deleteTemplate, `/v1/templates/${other.id}`)).toMatchObject({ status: 204 });
      expectError(await call(getTemplate, `/v1/templates/${other.id}`), 404, 'not_found');
    });
  });

  describe('workspaces', () => {
    let ws: { id: string; name: string; agent: { id: string; name: string } };
    let createOp: string;

    it('POST is 202 with the workspace (pending), its create operation and its agent, owned by the caller', async () => {
      const res = await call(createWorkspace, '/v1/workspaces', { name: 'olga-box', template: 'dev-box', params: { region: 'eu' }, labels: { purpose: 'dev' } }, olga);
      expect(res.status, res.text).toBe(202);
      ws = res.body.workspace;
      createOp = res.body.operation.id;
      expect(res.headers.get('location')).toBe(`/v1/workspaces/${ws.id}`);
      expect(res.body.operation).toMatchObject({ type: 'create', status: 'pending', reason: 'user', workspaceId: ws.id });
      expect(res.body.workspace).toMatchObject({
        name: 'olga-box', ownerId: olgaId, ownerName: 'olga', status: 'pending', health: 'none', templateId, templateVersion: 3, templateCurrentVersion: 3, outdated: false,
        params: { size: 'small', region: 'eu' }, labels: { purpose: 'dev' }, latestOperation: { id: createOp, type: 'create', status: 'pending' },
      });
      expect(ws.agent.name).toBe(`ws-olga-box-${ws.id.slice(-6)}`);
      const [agent] = await sql`select name, labels, revoked_at from agents where id = ${ws.agent.id}`;
      // The reserved labels only: the user's own stay on the workspace (workspace-access.e2e.test.ts).
      expect(agent).toMatchObject({ name: ws.agent.name, labels: { workspace: 'olga-box', 'workspace-id': ws.id, 'workspace-owner': olgaId }, revoked_at: null });
      const [op] = await sql`select template_version, actor_id, actor_name from workspace_operations where id = ${createOp}`;
      expect(op).toMatchObject({ template_version: 3, actor_id: olgaId, actor_name: 'olga' });
      // By name too, for its owner.
      expect((await call(getWorkspace, '/v1/workspaces/olga-box', undefined, olga)).body.id).toBe(ws.id);
    });

    it('params: defaults applied, a required one enforced, an unknown one refused (400 invalid_param naming it); bad input names its field; nothing half-created', async () => {
      const count = async () => (await sql`select (select count(*) from workspaces)::int as w, (select count(*) from agents)::int as a, (select count(*) from workspace_operations)::int as o`)[0];
      const before = await count();
      let res = await call(createWorkspace, '/v1/workspaces', { name: 'p1', template: 'dev-box' }, olga);
      expectError(res, 400, 'invalid_param', 'params.region');
      expect(res.body.error.details.param).toBe('region');
      res = await call(createWorkspace, '/v1/workspaces', { name: 'p2', template: 'dev-box', params: { region: 'eu', colour: 'red' } }, olga);
      expectError(res, 400, 'invalid_param', 'params.colour');
      expectError(await call(createWorkspace, '/v1/workspaces', { name: 'Not_OK', template: 'dev-box', params: { region: 'eu' } }, olga), 400, 'validation_failed', 'name');
      expectError(await call(createWorkspace, '/v1/workspaces', { name: 'p3', template: 'no-such', params: {} }, olga), 400, 'validation_failed', 'template');
      expectError(await call(createWorkspace, '/v1/workspaces', { name: 'p4', template: 'dev-box', params: { region: 'eu' }, ttlMs: 5 }, olga), 400, 'validation_failed', 'ttlMs');
      expectError(await call(createWorkspace, '/v1/workspaces', { name: 'p5', template: 'dev-box', params: { region: 'eu' }, autostartSchedule: { cron: '61 * * * *' } }, olga), 400, 'validation_failed', 'autostartSchedule.cron');
      expectError(await call(createWorkspace, '/v1/workspaces', { name: 'p6', template: 'dev-box', params: { region: 'eu' }, autostartSchedule: { cron: '0 8 * * 1-5', timezone: 'Mars/Base' } }, olga), 400, 'validation_failed', 'autostartSchedule.timezone');
      expectError(await call(createWorkspace, '/v1/workspaces', { name: 'olga-box', template: 'dev-box', params: { region: 'eu' } }, olga), 409, 'workspace_exists', 'name');
      expect(await count()).toEqual(before);
      // Another owner may use the same name (their own); its agent's name differs.
      const petes = await call(createWorkspace, '/v1/workspaces', { name: 'olga-box', template: templateId, params: { region: 'us', size: 'large' }, autostartSchedule: { cron: '0 8 * * 1-5' }, idleTimeoutMs: 900_000 }, pete);
      expect(petes.status, petes.text).toBe(202);
      expect(petes.body.workspace.params).toEqual({ region: 'us', size: 'large' });
      expect(petes.body.workspace).toMatchObject({ idleTimeoutMs: 900_000, autostart: { cron: '0 8 * * 1-5', timezone: 'UTC' } });
      expect(Date.parse(petes.body.workspace.autostart.nextAt)).toBeGreaterThan(Date.now() - 5_000);
      expect(petes.body.workspace.agent.name).not.toBe(ws.agent.name);
    });

    it('a second action while one is active is 409 workspace_busy; what the status does not allow is 409 invalid_transition', async () => {
      expectError(await call(stopWorkspace, `/v1/workspaces/${ws.id}/stop`, undefined, olga), 409, 'workspace_busy');
      expectError(await call(deleteWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga), 409, 'workspace_busy');
      await endActive(ws.id, 'succeeded'); // the engine started it
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body).toMatchObject({ status: 'running', health: 'connecting' });
      expectError(await call(startWorkspace, `/v1/workspaces/${ws.id}/start`, undefined, olga), 409, 'invalid_transition');
      const stop = await call(stopWorkspace, `/v1/workspaces/${ws.id}/stop`, undefined, olga);
      expect(stop.status, stop.text).toBe(202);
      expect(stop.body.operation).toMatchObject({ type: 'stop', status: 'pending' });
      await sql`update workspace_operations set status = 'running', started_at = clock_timestamp() where id = ${stop.body.operation.id}`;
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body.status).toBe('stopping');
      await endActive(ws.id, 'succeeded');
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body).toMatchObject({ status: 'stopped', health: 'none' });
      expectError(await call(stopWorkspace, `/v1/workspaces/${ws.id}/stop`, undefined, olga), 409, 'invalid_transition');
      expectError(await call(restartWorkspace, `/v1/workspaces/${ws.id}/restart`, undefined, olga), 409, 'invalid_transition');
    });

    it("a rebuild records the template's current version; the workspace shows it is outdated", async () => {
      await call(updateTemplate, `/v1/templates/${templateId}`, { costPerHour: 0.5 }); // version 4
      const view = (await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body;
      expect(view).toMatchObject({ templateVersion: 3, templateCurrentVersion: 4, outdated: true });
      const rebuild = await call(rebuildWorkspace, `/v1/workspaces/${ws.id}/rebuild`, undefined, olga);
      expect(rebuild.status, rebuild.text).toBe(202);
      const [op] = await sql`select type, template_version from workspace_operations where id = ${rebuild.body.operation.id}`;
      expect(op).toEqual({ type: 'rebuild', template_version: 4 });
      await endActive(ws.id, 'failed');
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body.status).toBe('failed');
      // A failed (or canceled) one can be started again, stopped and deleted.
      const start = await call(startWorkspace, `/v1/workspaces/${ws.id}/start`, undefined, olga);
      expect(start.status, start.text).toBe(202);
      const [startOp] = await sql`select template_version from workspace_operations where id = ${start.body.operation.id}`;
      expect(startOp!.template_version).toBe(3);
    });

    it('operations: listed (filters), read with their logs in order, canceled (pending → canceled, running → canceling, ended → 409)', async () => {
      const active = (await call(listOperations, `/v1/operations?workspace=${ws.id}&status=pending`, undefined, olga)).body.items;
      expect(active).toHaveLength(1);
      const opId = active[0].id;
      await sql`insert into workspace_operation_logs (operation_id, line) values (${opId}, 'first'), (${opId}, 'second')`;
      const got = await call(getOperation, `/v1/operations/${opId}`, undefined, olga);
      expect(got.body).toMatchObject({ id: opId, type: 'start', status: 'pending', reason: 'user', actor: { id: olgaId, name: 'olga' }, workspaceName: 'olga-box', logsTruncated: false });
      expect(got.body.logs.map((l: { line: string }) => l.line)).toEqual(['first', 'second']);
      const canceled = await call(cancelOperation, `/v1/operations/${opId}/cancel`, undefined, olga);
      expect(canceled.body).toMatchObject({ status: 'canceled' });
      expect(canceled.body.endedAt).not.toBeNull();
      expectError(await call(cancelOperation, `/v1/operations/${opId}/cancel`, undefined, olga), 409, 'operation_ended');
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body.status).toBe('canceled');

      const again = (await call(startWorkspace, `/v1/workspaces/${ws.id}/start`, undefined, olga)).body.operation.id;
      await sql`update workspace_operations set status = 'running', started_at = clock_timestamp() where id = ${again}`;
      const canceling = await call(cancelOperation, `/v1/operations/${again}/cancel`, undefined, olga);
      expect(canceling.body).toMatchObject({ status: 'canceling', endedAt: null });
      expect(canceling.body.cancelRequestedAt).not.toBeNull();
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body.status).toBe('canceling');
      expect((await call(cancelOperation, `/v1/operations/${again}/cancel`, undefined, olga)).body.status).toBe('canceling');
      await endActive(ws.id, 'canceled');

      const types = (await call(listOperations, `/v1/operations?workspace=olga-box`, undefined, olga)).body.items.map((o: { type: string }) => o.type);
      expect(types).toEqual(['start', 'start', 'rebuild', 'stop', 'create']);
      const starts = (await call(listOperations, `/v1/operations?workspace=${ws.id}&type=start&limit=1`, undefined, olga)).body;
      expect(starts.items).toHaveLength(1);
      expect(starts.nextCursor).toBe(starts.items[0].id);
      expect((await call(listOperations, `/v1/operations?workspace=${ws.id}&type=start&cursor=${starts.nextCursor}`, undefined, olga)).body.items).toHaveLength(1);
      expectError(await call(listOperations, '/v1/operations?type=explode', undefined, olga), 400, 'validation_failed', 'type');
    });

    it('GET /v1/operations/{id}/logs: NDJSON, and follow=true gives each new line live, then the end', async () => {
      const opId = (await call(startWorkspace, `/v1/workspaces/${ws.id}/start`, undefined, olga)).body.operation.id;
      await sql`insert into workspace_operation_logs (operation_id, line) values (${opId}, 'one')`;
      const plain = await olga.request('GET', `/v1/operations/${opId}/logs`);
      expect(plain.status).toBe(200);
      expect(plain.text.trim().split('\n').map((l) => JSON.parse(l).line)).toEqual(['one']);
      const res = await fetch(`${olga.baseUrl}/v1/operations/${opId}/logs?follow=true`, { headers: { authorization: `Bearer ${olga.token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      const reader = res.body!.getReader();
      let text = '';
      const readUntil = async (what: string) => {
        while (!text.includes(what)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        expect(text).toContain(what);
      };
      await readUntil('"one"');
      await sql`insert into workspace_operation_logs (operation_id, line) values (${opId}, 'two')`;
      await readUntil('"two"');
      await endActive(ws.id, 'canceled');
      await readUntil('"end"');
      const lines = text.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.line ?? l.end.status)).toEqual(['one', 'two', 'canceled']);
      expectError(await pete.request('GET', `/v1/operations/${opId}/logs`), 404, 'not_found');
    });

    it('PATCH renames it (and its agent), changes TTL, labels and autostart', async () => {
      const res = await call(updateWorkspace, `/v1/workspaces/${ws.id}`, { name: 'olga-main', ttlMs: 600_000, labels: { purpose: 'main' }, autostartSchedule: { cron: '0 8 * * 1-5', timezone: 'Europe/Berlin' } }, olga);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ name: 'olga-main', ttlMs: 600_000, labels: { purpose: 'main' }, autostart: { cron: '0 8 * * 1-5', timezone: 'Europe/Berlin' } });
      expect(res.body.autostart.nextAt).not.toBeNull();
      expect(res.body.agent.name).toBe(`ws-olga-main-${ws.id.slice(-6)}`);
      const [agent] = await sql`select labels from agents where id = ${ws.agent.id}`;
      expect(agent!.labels).toEqual({ workspace: 'olga-main', 'workspace-id': ws.id, 'workspace-owner': olgaId }); // its name label follows
      const cleared = await call(updateWorkspace, `/v1/workspaces/${ws.id}`, { ttlMs: null, autostartSchedule: null }, olga);
      expect(cleared.body).toMatchObject({ ttlMs: null, autostart: null });
      expectError(await call(updateWorkspace, `/v1/workspaces/${ws.id}`, { name: 'BAD' }, olga), 400, 'validation_failed', 'name');
      expectError(await call(updateWorkspace, `/v1/workspaces/${ws.id}`, { template: 'x' }, olga), 400, 'validation_failed');
    });

    it('access: another operator and a viewer get 404 for every route of it; admins see all; a viewer may not act', async () => {
      const path = `/v1/workspaces/${ws.id}`;
      for (const client of [pete, vera]) {
        expectError(await call(getWorkspace, path, undefined, client), 404, 'not_found');
        expectError(await call(listOperations, `/v1/operations?workspace=${ws.id}`, undefined, client), 404, 'not_found');
        expectError(await call(getOperation, `/v1/operations/${createOp}`, undefined, client), 404, 'not_found');
      }
      expectError(await call(updateWorkspace, path, { ttlMs: 600_000 }, pete), 404, 'not_found');
      expectError(await call(startWorkspace, `${path}/start`, undefined, pete), 404, 'not_found');
      expectError(await call(deleteWorkspace, path, undefined, pete), 404, 'not_found');
      expectError(await call(cancelOperation, `/v1/operations/${createOp}/cancel`, undefined, pete), 404, 'not_found');
      expectError(await call(startWorkspace, `${path}/start`, undefined, vera), 403, 'forbidden');
      // Pete's own list has his only; the admin sees both, and may filter by owner and status.
      const petes = (await call(listWorkspaces, '/v1/workspaces', undefined, pete)).body.items;
      expect(petes.map((w: { ownerName: string }) => w.ownerName)).toEqual(['pete']);
      expect((await call(listOperations, '/v1/operations', undefined, pete)).body.items.every((o: { workspaceId: string }) => o.workspaceId === petes[0].id)).toBe(true);
      const all = (await call(listWorkspaces, '/v1/workspaces', undefined, admin)).body.items;
      expect(all.map((w: { ownerName: string }) => w.ownerName).sort()).toEqual(['olga', 'pete']);
      expect((await call(listWorkspaces, '/v1/workspaces?owner=olga', undefined, admin)).body.items.map((w: { id: string }) => w.id)).toEqual([ws.id]);
      expect((await call(listWorkspaces, '/v1/workspaces?status=canceled', undefined, admin)).body.items.map((w: { id: string }) => w.id)).toEqual([ws.id]);
      expect((await call(listWorkspaces, '/v1/workspaces?status=pending', undefined, admin)).body.items.map((w: { id: string }) => w.id)).toEqual([petes[0].id]);
      expectError(await call(listWorkspaces, '/v1/workspaces?owner=nobody', undefined, admin), 422, 'unknown_user');
      expectError(await call(listWorkspaces, '/v1/workspaces?status=asleep', undefined, admin), 400, 'validation_failed', 'status');
      expect((await call(getWorkspace, path, undefined, admin)).body.ownerName).toBe('olga');
      // Pete's 404s are recorded as denials (the audit writer flushes in the background).
      await waitFor('pete\'s denials in the audit trail', async () => Number((await sql`select count(*)::int as n from audit_events where actor_name = 'pete' and result = 'denied'`)[0]!.n) >= 5);
    });

    it('the SQL status (?status=) says what workspaceStatus says, for every type and status', async () => {
      const probe = (await call(createWorkspace, '/v1/workspaces', { name: 'probe', template: 'dev-box', params: { region: 'eu' } }, admin)).body.workspace.id;
      for (const type of OPERATION_TYPES) {
        for (const status of OPERATION_STATUSES) {
          await sql`update workspace_operations set type = ${type}, status = ${status} where workspace_id = ${probe}`;
          const expected = workspaceStatus({ type, status });
          const listed = (await call(listWorkspaces, `/v1/workspaces?status=${expected}&limit=500`)).body.items.map((w: { id: string }) => w.id);
          expect(listed, `${type} ${status} → ${expected}`).toContain(probe);
        }
      }
      await sql`update workspace_operations set type = 'create', status = 'succeeded' where workspace_id = ${probe}`;
    });

    it('the typed client reaches the same routes', async () => {
      expect((await admin.vmo.templates.list()).items.map((t) => t.name)).toContain('dev-box');
      expect((await admin.vmo.templates.versions('dev-box')).items[0]!.version).toBe(4);
      const got = await olga.vmo.workspaces.get(ws.id);
      expect(got.name).toBe('olga-main');
      expect((await olga.vmo.workspaces.list({ limit: 5 })).items.map((w) => w.id)).toEqual([ws.id]);
      const ops = await olga.vmo.operations.list({ workspace: ws.id, type: 'create' });
      expect((await olga.vmo.operations.get(ops.items[0]!.id)).type).toBe('create');
      await sql`insert into workspace_operation_logs (operation_id, line) values (${ops.items[0]!.id}, 'made')`;
      expect((await olga.vmo.operations.logs(ops.items[0]!.id)).map((l) => l.line)).toEqual(['made']);
      await expect(olga.vmo.workspaces.start(ws.id)).resolves.toMatchObject({ operation: { type: 'start', status: 'pending' } });
      await expect(olga.vmo.operations.cancel((await olga.vmo.operations.list({ workspace: ws.id, status: 'pending' })).items[0]!.id)).resolves.toMatchObject({ status: 'canceled' });
    });

    it('a job may target a workspace: run on its agent, for its owner and admins only (422 unknown_workspace otherwise)', async () => {
      const body = (workspace: string) => ({ command: 'hostname', target: { type: 'workspace', workspace } });
      for (const [client, ref] of [[olga, 'olga-main'], [olga, ws.id], [admin, ws.id]] as const) {
        const res = await client.request('POST', '/v1/jobs', body(ref));
        expect(res.status, res.text).toBe(201);
        expect(res.body.target).toEqual({ type: 'agent', agent: ws.agent.id });
        // Her own jobs she reads (an admin's job on her workspace needs a read policy on its agent, as any job).
        expect((await client.request('GET', `/v1/jobs/${res.body.id}`)).status).toBe(200);
      }
      for (const [client, ref] of [[pete, ws.id], [olga, 'nobody'], [vera, ws.id]] as const) {
        const res = await client.request('POST', '/v1/jobs', body(ref));
        if (client === vera) expectError(res, 403, 'forbidden'); // viewers run nothing
        else expectError(res, 422, 'unknown_workspace');
      }
      expectError(await olga.request('POST', '/v1/jobs', { command: 'true', target: { type: 'workspace' } }), 400, 'validation_failed', 'target.workspace');
    });

    it('DELETE is a delete operation; ?orphan=true (admins only) deletes it without the provider, ending its operation and revoking its agent', async () => {
      const del = await call(deleteWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga);
      expect(del.status, del.text).toBe(202);
      expect(del.body.operation).toMatchObject({ type: 'delete', status: 'pending' });
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body.status).toBe('pending');
      expectError(await call(deleteWorkspace, `/v1/workspaces/${ws.id}?orphan=true`, undefined, olga), 403, 'forbidden');
      const orphan = await call(deleteWorkspace, `/v1/workspaces/${ws.id}?orphan=true`, undefined, admin);
      expect(orphan.status, orphan.text).toBe(200);
      expect(orphan.body).toMatchObject({ status: 'deleted', agent: null, latestOperation: { type: 'delete', status: 'succeeded', reason: 'orphan_delete' } });
      expect(orphan.body.deletedAt).not.toBeNull();
      const [ended] = await sql`select status from workspace_operations where id = ${del.body.operation.id}`;
      expect(ended!.status).toBe('canceled');
      const [agent] = await sql`select revoked_at from agents where id = ${ws.agent.id}`;
      expect(agent!.revoked_at).not.toBeNull();
      // Gone from the listing and by name; by id it shows deleted; the name is free again.
      expect((await call(listWorkspaces, '/v1/workspaces', undefined, olga)).body.items).toEqual([]);
      expectError(await call(getWorkspace, '/v1/workspaces/olga-main', undefined, olga), 404, 'not_found');
      expect((await call(getWorkspace, `/v1/workspaces/${ws.id}`, undefined, olga)).body.status).toBe('deleted');
      expectError(await call(startWorkspace, `/v1/workspaces/${ws.id}/start`, undefined, olga), 404, 'not_found');
      expect((await call(listWorkspaces, '/v1/workspaces?status=deleted', undefined, olga)).body.items.map((w: { id: string }) => w.id)).toEqual([ws.id]);
      expectError(await olga.request('POST', '/v1/jobs', { command: 'true', target: { type: 'workspace', workspace: ws.id } }), 422, 'unknown_workspace');
      const again = await call(createWorkspace, '/v1/workspaces', { name: 'olga-main', template: 'dev-box', params: { region: 'eu' } }, olga);
      expect(again.status, again.text).toBe(202);
    });
  });
});
