/**
 * Issue 15 §Projects, access, on the real stack (API, worker, agents of two teams): a project is
 * seen by whoever may read its machine and acted on by whoever may run there, exactly as a job
 * would be. An operator of team=a never learns of team b's projects (the 404 of one that does not
 * exist, byte for byte, on every route; absent from the list) and cannot put one on team b's
 * machine (the 422 of a machine that does not exist); allowed to read team b, she sees them but
 * running, discovering, changing or deleting is 403 naming the machine; a viewer reads the cached
 * targets but never discovers nor runs (403 jobs:run); the local target is for admins or a
 * `local` policy. Nothing is created by a refusal; each one is on the audit trail (TestSystem.stop).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, type ApiResponse, TestSystem, writeMakeProject } from '@vmo/testkit';

describe('projects: access by policy (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  /** Operator: run and cancel on team=a. */
  let alice: ApiClient;
  /** Viewer: reads team=a. */
  let vera: ApiClient;
  /** Operator: run on the local target only. */
  let lou: ApiClient;
  let root: string;

  const token = async (user: string): Promise<string> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };
  const jobs = async (): Promise<number> => Number((await sql`select count(*)::int as n from jobs`)[0]!.n);
  const projects = async (): Promise<number> => Number((await sql`select count(*)::int as n from projects`)[0]!.n);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vmo-projects-access-'));
    await writeMakeProject(root);
    system = await TestSystem.start({ label: 'projects_access' });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    admin = system.client;
    await Promise.all([system.startAgent('a-1', { labels: { team: 'a' } }), system.startAgent('b-1', { labels: { team: 'b' } })]);
    for (const [name, role] of [['alice', 'operator'], ['vera', 'viewer'], ['lou', 'operator']]) {
      const res = await admin.request('POST', '/v1/users', { name, role });
      expect(res.status, res.text).toBe(201);
    }
    alice = system.clientFor(0, await token('alice'));
    vera = system.clientFor(0, await token('vera'));
    lou = system.clientFor(0, await token('lou'));
    for (const policy of [
      { name: 'team-a', subjects: { users: ['alice'] }, actions: ['run', 'cancel'], targets: 'team=a' },
      { name: 'viewers-read-a', subjects: { roles: ['viewer'] }, actions: ['read'], targets: 'team=a' },
      { name: 'lou-local', subjects: { users: ['lou'] }, actions: ['run'], local: true },
    ]) {
      const res = await admin.request('POST', '/v1/policies', policy);
      expect(res.status, res.text).toBe(201);
    }
    for (const [alias, target] of [['pa', { type: 'agent', agent: 'a-1' }], ['pb', { type: 'agent', agent: 'b-1' }], ['pl', { type: 'local' }]] as const) {
      const res = await admin.request('POST', '/v1/projects', { alias, dir: root, target });
      expect(res.status, res.text).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('an operator of team=a discovers and runs on her machine; the jobs are hers', async () => {
    const targets = await alice.request('GET', '/v1/projects/pa/targets');
    expect(targets.status, targets.text).toBe(200);
    expect((await alice.job(targets.body.jobId)).createdBy).toBe('alice');
    const run = await alice.request('POST', '/v1/projects/pa/targets/build/run', {});
    expect(run.status, run.text).toBe(201);
    const ended = await alice.waitForEnd(run.body.id);
    expect(ended).toMatchObject({ status: 'succeeded', createdBy: 'alice' });
  });

  it("team b's project is nobody to her: the 404 of none on every route, byte for byte; absent from the list; nothing created", async () => {
    const [jobsBefore, projectsBefore] = [await jobs(), await projects()];
    const same = async (method: string, path: (alias: string) => string, body?: unknown) => {
      const hidden = await alice.request(method, path('pb'), body);
      const missing = await alice.request(method, path('zz'), body);
      expect(hidden.status, `${method} ${path('pb')}: ${hidden.text}`).toBe(404);
      expect(hidden.text.replaceAll('pb', '<alias>')).toBe(missing.text.replaceAll('zz', '<alias>'));
    };
    await same('GET', (a) => `/v1/projects/${a}`);
    await same('GET', (a) => `/v1/projects/${a}/targets`);
    await same('GET', (a) => `/v1/projects/${a}/targets?refresh=true`);
    await same('POST', (a) => `/v1/projects/${a}/targets/build/run`, {});
    await same('PATCH', (a) => `/v1/projects/${a}`, { dir: '/tmp' });
    await same('DELETE', (a) => `/v1/projects/${a}`);
    const listed = (await alice.request('GET', '/v1/projects')).body.items.map((p: { alias: string }) => p.alias);
    expect(listed).toEqual(['pa']);
    expect([await jobs(), await projects()]).toEqual([jobsBefore, projectsBefore]);
  });

  it("she cannot put a project on team b's machine (the 422 of a machine that does not exist), nor on local (403 naming it), nor import there", async () => {
    const before = await projects();
    const hidden = await alice.request('POST', '/v1/projects', { alias: 'mine-on-b', dir: root, target: { type: 'agent', agent: 'b-1' } });
    const missing = await alice.request('POST', '/v1/projects', { alias: 'mine-on-b', dir: root, target: { type: 'agent', agent: 'zz-9' } });
    expect([hidden.status, hidden.body.error?.code]).toEqual([422, 'unknown_agent']);
    expect(hidden.text.replace('b-1', 'zz-9')).toBe(missing.text);
    const local = await alice.request('POST', '/v1/projects', { alias: 'mine-local', dir: root, target: { type: 'local' } });
    expect(local.status, local.text).toBe(403);
    expect(local.body.error).toMatchObject({ code: 'target_forbidden', details: { targets: ['local'] } });
    const imported = await alice.request('POST', '/v1/projects/import', { target: { type: 'agent', agent: 'b-1' }, registry: `x=${root}\n` });
    expect([imported.status, imported.body.error?.code]).toEqual([422, 'unknown_agent']);
    expect(await projects()).toBe(before);
  });

  it("an alias taken by team b's project is only \"taken\" to her: the 409 and an import's skipped reason say nothing of where", async () => {
    const before = await projects();
    const hidden = await alice.request('POST', '/v1/projects', { alias: 'pb', dir: root, target: { type: 'agent', agent: 'a-1' } });
    expect([hidden.status, hidden.body.error?.code, hidden.body.error?.details?.field], hidden.text).toEqual([409, 'project_exists', 'alias']);
    expect(hidden.body.error.message).toBe('alias: "pb" is taken; choose another alias');
    // Her own project's alias: she may see it, so she is told she could change it.
    const own = await alice.request('POST', '/v1/projects', { alias: 'pa', dir: root, target: { type: 'agent', agent: 'a-1' } });
    expect([own.status, own.body.error?.code]).toEqual([409, 'project_exists']);
    expect(own.body.error.message).toContain('PATCH /v1/projects/pa');
    const imported = await alice.request('POST', '/v1/projects/import', { target: { type: 'agent', agent: 'a-1' }, registry: `pb=${root}\npl=${root}\n` });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.body.skipped).toEqual([
      { alias: 'pb', line: 1, reason: 'the alias is taken; choose another' },
      { alias: 'pl', line: 2, reason: 'the alias is taken; choose another' },
    ]);
    expect(imported.text).not.toMatch(/b-1|another machine|local/);
    expect(await projects()).toBe(before);
  });

  it('allowed to read team b, she sees its project, but discovering, running, changing and deleting there are 403 naming b-1', async () => {
    const readB = await admin.request('POST', '/v1/policies', { name: 'alice-reads-b', subjects: { users: ['alice'] }, actions: ['read'], targets: 'team=b' });
    expect(readB.status, readB.text).toBe(201);
    try {
      const before = await jobs();
      expect((await alice.request('GET', '/v1/projects/pb')).status).toBe(200);
      for (const [method, path, body] of [
        ['GET', '/v1/projects/pb/targets', undefined],
        ['POST', '/v1/projects/pb/targets/build/run', {}],
        ['PATCH', '/v1/projects/pb', { dir: '/tmp' }],
        ['DELETE', '/v1/projects/pb', undefined],
      ] as const) {
        const res: ApiResponse = await alice.request(method, path, body);
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'target_forbidden', details: { action: 'run', targets: ['b-1'] } });
      }
      expect(await jobs()).toBe(before);
      expect((await admin.request('GET', '/v1/projects/pb')).body.dir).toBe(root);
    } finally {
      await admin.vmo.policies.delete('alice-reads-b');
    }
  });

  it('a viewer reads the project and its cached targets, but never discovers, runs, adds or removes (403 jobs:run)', async () => {
    const before = await jobs();
    expect((await vera.request('GET', '/v1/projects')).body.items.map((p: { alias: string }) => p.alias)).toEqual(['pa']);
    const cached = await vera.request('GET', '/v1/projects/pa/targets');
    expect(cached.status, cached.text).toBe(200);
    expect(cached.body.cached).toBe(true);
    for (const [method, path, body] of [
      ['GET', '/v1/projects/pa/targets?refresh=true', undefined],
      ['POST', '/v1/projects/pa/targets/build/run', {}],
      ['POST', '/v1/projects', { alias: 'v', dir: root, target: { type: 'agent', agent: 'a-1' } }],
      ['POST', '/v1/projects/import', { target: { type: 'agent', agent: 'a-1' }, registry: `v=${root}\n` }],
      ['DELETE', '/v1/projects/pa', undefined],
    ] as const) {
      const res = await vera.request(method, path, body);
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { scope: 'jobs:run' } });
    }
    // Never discovered, a viewer cannot have its targets at all: discovering is running.
    const uncached = await vera.request('GET', '/v1/projects/pa/targets?refresh=true');
    expect(uncached.status).toBe(403);
    expect(await jobs()).toBe(before);
  });

  it('the local target: an operator with a `local` policy runs its project; one without does not see it', async () => {
    expect((await alice.request('GET', '/v1/projects/pl')).status).toBe(404);
    const listed = (await lou.request('GET', '/v1/projects')).body.items.map((p: { alias: string }) => p.alias);
    expect(listed).toEqual(['pl']);
    const run = await lou.request('POST', '/v1/projects/pl/targets/lint/run', {});
    expect(run.status, run.text).toBe(201);
    expect((await lou.waitForEnd(run.body.id)).status).toBe('succeeded');
    expect((await lou.logs(run.body.id)).toString()).toBe('linted\n');
  });
});
