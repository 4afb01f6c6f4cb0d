/**
 * Issue 11 §Authorization for a run's targets (POST /v1/runs), on the real API: a machine the
 * caller may not read is invisible to them, whichever way the run names it. A selector does not
 * match it; an explicit `agents` or `hosts` entry naming it (id, name, name@environment) is the
 * same 422 as a machine that does not exist; a bare host name resolves, and is judged ambiguous,
 * among the hosts they may read only, so `ambiguous_host` never counts nor lists an environment
 * they may not see. A machine they may read but not run on is the 403 naming it. Nothing is
 * created by a refused run. (An admin still sees every candidate.)
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, type ApiClient, type ApiResponse } from '@vmo/testkit';

describe('run targets a non-admin may not read are invisible (real API)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  /** Operator: run and cancel on team=a, read only on team=r; nothing on team=b. */
  let alice: ApiClient;
  const hostIds = new Map<string, string>();
  const agentIds = new Map<string, string>();

  const counts = async () => (await sql<{ runs: number; jobs: number }[]>`select (select count(*)::int from runs) as runs, (select count(*)::int from jobs) as jobs`)[0]!;
  const run = (client: ApiClient, targets: Record<string, unknown>) => client.request('POST', '/v1/runs', { command: 'true', targets });
  /** The answer for a machine that does not exist, with its name in place of `ghost`. */
  const asIfNobody = async (client: ApiClient, field: 'agents' | 'hosts', hidden: string, ghost: string): Promise<[ApiResponse, ApiResponse]> => {
    const res = await run(client, { [field]: [hidden] });
    const nobody = await run(client, { [field]: [ghost] });
    return [res, nobody];
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'runs_target_visibility', workers: 0 });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    admin = system.client;
    const hosts: [string, string, Record<string, string>][] = [
      ['web', 'ea', { team: 'a' }],
      ['web', 'eb', { team: 'b' }],
      ['db', 'eb', { team: 'b' }],
      ['api', 'default', { team: 'b' }],
      ['api', 'ea', { team: 'a' }],
      ['dup', 'ea', { team: 'a' }],
      ['dup', 'ea2', { team: 'a' }],
      ['dup', 'eb', { team: 'b' }],
      ['ro', 'default', { team: 'r' }],
    ];
    for (const [name, environment, labels] of hosts) {
      const res = await admin.request('POST', '/v1/hosts', { name, environment, host: '127.0.0.1', user: 'nobody', labels });
      expect(res.status, res.text).toBe(201);
      hostIds.set(`${name}@${environment}`, res.body.id);
    }
    for (const [name, team] of [['ag-a', 'a'], ['ag-b', 'b'], ['ag-r', 'r']]) {
      const res = await admin.request('POST', '/v1/agents', { name, labels: { team } });
      expect(res.status, res.text).toBe(201);
      agentIds.set(name!, res.body.id);
    }
    expect((await admin.request('POST', '/v1/users', { name: 'alice', role: 'operator' })).status).toBe(201);
    const token = await admin.request('POST', '/v1/tokens', { name: "alice's token", user: 'alice' });
    expect(token.status, token.text).toBe(201);
    alice = system.clientFor(0, token.body.token);
    for (const body of [
      { name: 'team-a', subjects: { users: ['alice'] }, actions: ['run', 'cancel'], targets: 'team=a' },
      { name: 'alice-reads-r', subjects: { users: ['alice'] }, actions: ['read'], targets: 'team=r' },
    ]) {
      const res = await admin.request('POST', '/v1/policies', body);
      expect(res.status, res.text).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  it('a bare host name resolves among the hosts she may read: "web" in ea (readable) and eb (hidden) is web@ea, not ambiguous', async () => {
    const res = await run(alice, { hosts: ['web'] });
    expect(res.status, res.text).toBe(201);
    const kids = await alice.request('GET', `/v1/runs/${res.body.id}/jobs`);
    expect(kids.body.items.map((k: { target: { name: string } }) => k.target.name)).toEqual(['web@ea']);
    // A hidden host in `default` does not win over the one she may read.
    const api = await run(alice, { hosts: ['api'] });
    expect(api.status, api.text).toBe(201);
    const apiKids = await alice.request('GET', `/v1/runs/${api.body.id}/jobs`);
    expect(apiKids.body.items.map((k: { target: { name: string } }) => k.target.name)).toEqual(['api@ea']);
    // An admin sees every candidate: the same name is ambiguous to them, listing both environments.
    const adminRes = await run(admin, { hosts: ['web'] });
    expect(adminRes.status, adminRes.text).toBe(422);
    expect(adminRes.body.error.code).toBe('ambiguous_host');
    expect(adminRes.body.error.message).toContain('(ea, eb)');
  });

  it('an ambiguity counts and lists only the environments she may read', async () => {
    const before = await counts();
    const res = await run(alice, { hosts: ['dup'] });
    expect(res.status, res.text).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'ambiguous_host', details: { field: 'targets.hosts', value: 'dup' } });
    expect(res.body.error.message).toContain('(ea, ea2)');
    expect(res.text).not.toContain('eb');
    const adminRes = await run(admin, { hosts: ['dup'] });
    expect(adminRes.body.error.message).toContain('(ea, ea2, eb)');
    expect(await counts()).toEqual(before);
  });

  it('a host she may not read, by bare name, name@environment or id, is the same 422 unknown_host as a host that does not exist', async () => {
    const before = await counts();
    const cases: [string, string][] = [
      ['db', 'nodb'],
      ['db@eb', 'nodb@eb'],
      [hostIds.get('db@eb')!, 'host_00000000000000000000'],
      ['web@eb', 'nowhere@eb'],
    ];
    for (const [hidden, ghost] of cases) {
      const [res, nobody] = await asIfNobody(alice, 'hosts', hidden, ghost);
      expect(res.status, res.text).toBe(422);
      expect(res.body.error.code).toBe('unknown_host');
      // Word for word the answer for nobody, but for the entry she typed.
      expect(res.text.replaceAll(JSON.stringify(hidden).slice(1, -1), 'X')).toBe(nobody.text.replaceAll(JSON.stringify(ghost).slice(1, -1), 'X'));
    }
    expect(await counts()).toEqual(before);
  });

  it('an agent she may not read, by name or id, is the same 422 unknown_agent as an agent that does not exist', async () => {
    const before = await counts();
    for (const [hidden, ghost] of [['ag-b', 'ag-nobody'], [agentIds.get('ag-b')!, 'agent_00000000000000000000']] as const) {
      const [res, nobody] = await asIfNobody(alice, 'agents', hidden, ghost);
      expect(res.status, res.text).toBe(422);
      expect(res.body.error.code).toBe('unknown_agent');
      expect(res.text.replaceAll(hidden, 'X')).toBe(nobody.text.replaceAll(ghost, 'X'));
    }
    // Listed beside one she may run on: still nobody to her, and nothing is created.
    const mixed = await run(alice, { agents: ['ag-a', 'ag-b'] });
    expect(mixed.status, mixed.text).toBe(422);
    expect(mixed.body.error).toMatchObject({ code: 'unknown_agent', details: { value: 'ag-b' } });
    expect(await counts()).toEqual(before);
  });

  it('a selector matches nothing she may not read: team=b is the same no_targets as a selector matching nothing', async () => {
    const before = await counts();
    const hidden = await run(alice, { selector: 'team=b' });
    const nothing = await run(alice, { selector: 'team=zz' });
    expect(hidden.status, hidden.text).toBe(422);
    expect(hidden.text).toBe(nothing.text);
    expect(await counts()).toEqual(before);
    // Her read grants are two selectors (team=a, team=r): neither may widen a selector over team b
    // (the run's, or the preview's that shows what a run would take).
    const preview = await alice.request('GET', '/v1/targets?selector=team%3Db');
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body).toMatchObject({ items: [], total: 0 });
  });

  it('machines she may read but not run on are the 403 naming them, and never a machine she may not read', async () => {
    const before = await counts();
    const listed = await run(alice, { agents: ['ag-a', 'ag-r'], hosts: ['ro'] });
    expect(listed.status, listed.text).toBe(403);
    expect(listed.body.error).toMatchObject({ code: 'target_forbidden', details: { action: 'run', targets: ['ag-r', 'ro@default'], total: 2 } });
    const selected = await run(alice, { selector: 'team in (a,b,r)' });
    expect(selected.status, selected.text).toBe(403);
    expect(selected.body.error).toMatchObject({ code: 'target_forbidden', details: { targets: ['ag-r', 'ro@default'], total: 2 } });
    expect(selected.text).not.toMatch(/ag-b|@eb|db/);
    expect(await counts()).toEqual(before);
  });

  it('what she may run on is accepted, by selector and by list', async () => {
    const res = await run(alice, { selector: 'team=a', hosts: ['dup@ea2'], agents: ['ag-a'] });
    expect(res.status, res.text).toBe(201);
    const kids = await alice.request('GET', `/v1/runs/${res.body.id}/jobs`);
    expect(kids.body.items.map((k: { target: { name: string } }) => k.target.name)).toEqual(['ag-a', 'api@ea', 'dup@ea', 'dup@ea2', 'web@ea']);
  });
});
