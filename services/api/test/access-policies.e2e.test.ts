/**
 * Issue 11 §Authorization, "Must hold", on the real stack (API and worker processes, real agents,
 * Postgres, Redis): a viewer cannot run; an operator of team=a cannot run on team=b (403 naming
 * it when she may read it; the 422 of a machine that does not exist when she may not: no
 * existence oracle; nothing created either way) and cannot see team b's jobs and runs (404 on GET, logs, stream, cancel,
 * the same 404 as for no job at all; absent from every list); the `local` target is admins'
 * only unless a policy with local=true grants it; the inventory is read per policy and written
 * by admins only; policies' bad input is a 4xx naming the field with nothing created, and a
 * policy's deletion binds the next request.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWebSocket, processesMatching, TestSystem, uniqueSleepArg, waitFor, type ApiClient, type ApiResponse } from '@vmo/testkit';

describe('authorization by policy (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  /** Operator named by the team-a policy (run, cancel on team=a). */
  let alice: ApiClient;
  /** Viewer: reads team=b by the viewers policy. */
  let vera: ApiClient;
  /** Operator granted only the local target. */
  let lou: ApiClient;
  /** An admin's long-running job on team b's agent. */
  let jobB: string;
  const markerB = uniqueSleepArg();

  const token = async (user: string): Promise<string> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };
  const policy = async (body: Record<string, unknown>): Promise<ApiResponse> => admin.request('POST', '/v1/policies', body);
  const count = async (table: 'jobs' | 'runs' | 'policies'): Promise<number> => Number((await sql.unsafe(`select count(*)::int as n from ${table}`))[0]!.n);

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'access_policies' });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    admin = system.client;
    await Promise.all([system.startAgent('a-1', { labels: { team: 'a' } }), system.startAgent('b-1', { labels: { team: 'b' } })]);
    for (const [name, labels] of [['ha', { team: 'a' }], ['hb', { team: 'b' }]] as const) {
      const res = await admin.request('POST', '/v1/hosts', { name, host: '127.0.0.1', user: 'nobody', labels });
      expect(res.status, res.text).toBe(201);
    }
    for (const [name, role] of [['alice', 'operator'], ['vera', 'viewer'], ['lou', 'operator']]) {
      const res = await admin.request('POST', '/v1/users', { name, role });
      expect(res.status, res.text).toBe(201);
    }
    alice = system.clientFor(0, await token('alice'));
    vera = system.clientFor(0, await token('vera'));
    lou = system.clientFor(0, await token('lou'));
    expect((await policy({ name: 'team-a', subjects: { users: ['alice'] }, actions: ['run', 'cancel'], targets: 'team=a' })).status).toBe(201);
    expect((await policy({ name: 'viewers-read-b', subjects: { roles: ['viewer'] }, actions: ['read'], targets: 'team=b' })).status).toBe(201);
    expect((await policy({ name: 'lou-local', subjects: { users: ['lou'] }, actions: ['run'], local: true })).status).toBe(201);
    const b = await admin.request('POST', '/v1/jobs', { command: `sleep ${markerB}`, target: { type: 'agent', agent: 'b-1' } });
    expect(b.status, b.text).toBe(201);
    jobB = b.body.id;
    await admin.waitForStatus(jobB, 'running');
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  describe('jobs', () => {
    it('a viewer cannot run, anywhere: 403 forbidden naming jobs:run, nothing created', async () => {
      const before = await count('jobs');
      for (const target of [{ type: 'agent', agent: 'b-1' }, { type: 'local' }]) {
        const res = await vera.request('POST', '/v1/jobs', { command: 'true', target });
        expect(res.status, res.text).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
        expect(res.body.error.message).toContain('jobs:run');
      }
      expect(await count('jobs')).toBe(before);
    });

    it("an operator of team=a naming team b's agent or host (which she may not read) gets the 422 of a machine that does not exist, byte for byte; nothing created", async () => {
      const before = await count('jobs');
      const hbId = ((await admin.request('GET', '/v1/hosts/hb')).body as { id: string }).id;
      const b1Id = ((await admin.request('GET', '/v1/agents/b-1')).body as { id: string }).id;
      const none = { agent: 'zz-9', host: 'zz-9' };
      for (const [type, ref, code] of [
        ['agent', 'b-1', 'unknown_agent'],
        ['agent', b1Id, 'unknown_agent'],
        ['ssh', 'hb', 'unknown_host'],
        ['ssh', 'hb@default', 'unknown_host'],
        ['ssh', hbId, 'unknown_host'],
      ] as const) {
        const field = type === 'agent' ? 'agent' : 'host';
        const hidden = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type, [field]: ref } });
        const missing = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type, [field]: none[field] } });
        expect([hidden.status, hidden.body.error?.code], `${ref}: ${hidden.text}`).toEqual([422, code]);
        // The same bytes once the name she typed is set aside: nothing says the machine exists.
        expect(hidden.text.replaceAll(JSON.stringify(JSON.stringify(ref)).slice(1, -1), '<ref>')).toBe(missing.text.replaceAll(JSON.stringify(JSON.stringify(none[field])).slice(1, -1), '<ref>'));
        expect(hidden.headers.get('content-type')).toBe(missing.headers.get('content-type'));
      }
      // An admin naming a name nobody has gets those very bytes (submitJob's own 422).
      const adminMissing = await admin.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'zz-9' } });
      const aliceHidden = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'b-1' } });
      expect(aliceHidden.text.replace('\\"b-1\\"', '<ref>')).toBe(adminMissing.text.replace('\\"zz-9\\"', '<ref>'));
      expect(aliceHidden.text).not.toMatch(/team|target_forbidden|hb@/);
      expect(await count('jobs')).toBe(before);
    });

    it('an operator of team=a who may read team b but not run there: 403 target_forbidden naming the agent or host, nothing created', async () => {
      const readB = await policy({ name: 'alice-reads-b-jobs', subjects: { users: ['alice'] }, actions: ['read'], targets: 'team=b' });
      expect(readB.status, readB.text).toBe(201);
      try {
        const before = await count('jobs');
        const onAgent = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'b-1' } });
        expect(onAgent.status, onAgent.text).toBe(403);
        expect(onAgent.body.error).toMatchObject({ code: 'target_forbidden', details: { action: 'run', targets: ['b-1'], total: 1 } });
        expect(onAgent.body.error.message).toContain('"b-1"');
        for (const host of ['hb', 'hb@default']) {
          const onHost = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host } });
          expect(onHost.status, onHost.text).toBe(403);
          expect(onHost.body.error).toMatchObject({ code: 'target_forbidden', details: { action: 'run', targets: ['hb@default'], total: 1 } });
        }
        expect(await count('jobs')).toBe(before);
      } finally {
        await admin.vmo.policies.delete('alice-reads-b-jobs');
      }
    });

    it('a bare host name resolves among the hosts the caller may read: one hidden in `default` neither wins over nor makes ambiguous her own in another environment', async () => {
      const added: string[] = [];
      const host = async (name: string, environment: string, team: string) => {
        const res = await admin.request('POST', '/v1/hosts', { name, environment, host: '127.0.0.1', port: 1, user: 'nobody', labels: { team } });
        expect(res.status, res.text).toBe(201);
        added.push(res.body.id as string);
        return res.body.id as string;
      };
      try {
        const hidden = await host('web', 'default', 'b');
        const mine = await host('web', 'staging', 'a');
        // Two hidden hosts of one name are nobody, not an ambiguity.
        await host('hz', 'x', 'b');
        await host('hz', 'y', 'b');
        const res = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host: 'web' } });
        expect(res.status, res.text).toBe(201);
        expect(res.body.hostId).toBe(mine);
        expect(res.body.target).toEqual({ type: 'ssh', host: 'web' });
        // For an admin, who reads every host, the bare name is the one in `default`.
        const byAdmin = await admin.request('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host: 'web' } });
        expect(byAdmin.status, byAdmin.text).toBe(201);
        expect(byAdmin.body.hostId).toBe(hidden);
        const hz = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host: 'hz' } });
        const zz = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'ssh', host: 'zz' } });
        expect([hz.status, hz.body.error?.code], hz.text).toEqual([422, 'unknown_host']);
        expect(hz.text.replace('hz', 'zz')).toBe(zz.text);
        for (const id of [res.body.id, byAdmin.body.id]) await admin.waitForEnd(id); // port 1: refused at once
      } finally {
        for (const id of added) await admin.request('DELETE', `/v1/hosts/${id}`);
      }
    });

    it("an operator of team=a runs on team=a, sees and cancels their job", async () => {
      const marker = uniqueSleepArg();
      const res = await alice.request('POST', '/v1/jobs', { command: `sleep ${marker}`, target: { type: 'agent', agent: 'a-1' } });
      expect(res.status, res.text).toBe(201);
      const running = await alice.waitForStatus(res.body.id, 'running');
      expect(running.createdBy).toBe('alice');
      const cancel = await alice.request('POST', `/v1/jobs/${res.body.id}/cancel`, {});
      expect(cancel.status, cancel.text).toBe(202);
      expect((await alice.waitForEnd(res.body.id)).status).toBe('canceled');
      await waitFor('the command gone', async () => ((await processesMatching(`^sleep ${marker}`)).length === 0 ? true : undefined), 20_000);
    });

    it("an operator of team=a cannot see team b's job: 404 on GET, logs, stream and cancel, the same answer as for no job; the job runs on", async () => {
      const none = 'job_00000000000000000000';
      const same = async (path: (id: string) => string, method = 'GET', body?: unknown) => {
        const hidden = await alice.request(method, path(jobB), body);
        const missing = await alice.request(method, path(none), body);
        expect(hidden.status, hidden.text).toBe(404);
        expect(hidden.body.error.code).toBe('not_found');
        expect(hidden.text.replaceAll(jobB, '<id>')).toBe(missing.text.replaceAll(none, '<id>'));
      };
      await same((id) => `/v1/jobs/${id}`);
      await same((id) => `/v1/jobs/${id}/logs`);
      await same((id) => `/v1/jobs/${id}/cancel`, 'POST', {});
      const stream = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${jobB}/stream`, { token: alice.token! });
      const streamNone = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${none}/stream`, { token: alice.token! });
      expect(stream.kind === 'refused' && stream.status).toBe(404);
      expect(stream.kind === 'refused' && stream.body.replaceAll(jobB, '<id>')).toBe(streamNone.kind === 'refused' && streamNone.body.replaceAll(none, '<id>'));
      // The refused cancel did nothing.
      expect((await admin.job(jobB)).status).toBe('running');
      expect(await processesMatching(`^sleep ${markerB}`)).toHaveLength(1);
    });

    it("team b's job is absent from every list an operator of team=a gets; a viewer of team=b sees it but cannot cancel it (403 naming b-1)", async () => {
      const ids = async (c: ApiClient, query = '') => ((await c.request('GET', `/v1/jobs${query}`)).body.items as { id: string }[]).map((j) => j.id);
      expect(await ids(admin)).toContain(jobB);
      expect(await ids(alice)).not.toContain(jobB);
      // A filter naming a machine the caller may not read answers as for a name nobody has.
      for (const [query, none] of [['?agent=b-1', '?agent=zz-9'], ['?target=b-1', '?target=zz-9'], ['?target=hb', '?target=zz-9']] as const) {
        const hidden = await alice.request('GET', `/v1/jobs${query}`);
        const missing = await alice.request('GET', `/v1/jobs${none}`);
        expect(hidden.status, query).toBe(422);
        expect(hidden.text.replaceAll(query.split('=')[1]!, '<name>')).toBe(missing.text.replaceAll('zz-9', '<name>'));
      }
      expect(await ids(admin, '?agent=b-1')).toContain(jobB);
      expect(await ids(alice, '?status=running')).not.toContain(jobB);
      expect(await ids(vera)).toContain(jobB);
      const cancel = await vera.request('POST', `/v1/jobs/${jobB}/cancel`, {});
      expect(cancel.status, cancel.text).toBe(403); // a viewer has no jobs:cancel at all
      expect((await vera.request('GET', `/v1/jobs/${jobB}`)).status).toBe(200);
      const stream = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${jobB}/stream`, { token: vera.token! });
      expect(stream.kind).toBe('open');
      if (stream.kind === 'open') stream.ws.close();
    });
  });

  describe('runs', () => {
    let runB: string;

    beforeAll(async () => {
      const res = await admin.request('POST', '/v1/runs', { command: 'echo from-b', targets: { selector: 'team in (a,b)' } });
      expect(res.status, res.text).toBe(201);
      runB = res.body.id;
    });

    it('a viewer cannot run a run', async () => {
      const before = await count('runs');
      const res = await vera.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'team=b' } });
      expect(res.status, res.text).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
      expect(await count('runs')).toBe(before);
    });

    it('an operator of team=a: a run reaching team b is 403 naming every refused target she may see, nothing created; a selector never reveals machines she may not see', async () => {
      const [runs, jobs] = [await count('runs'), await count('jobs')];
      // A selector resolves only among what she may read: team b's machines are nobody to her, the
      // same answer as a selector matching nothing (no names, no count).
      const hidden = await alice.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'team=b' } });
      const nothing = await alice.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'team=zz' } });
      expect(hidden.status, hidden.text).toBe(422);
      expect(hidden.body.error.code).toBe('no_targets');
      expect(hidden.text).toBe(nothing.text);
      expect(hidden.text).not.toMatch(/b-1|hb/);
      // Machines she may read but not run on are the 403 naming them.
      const readB = await policy({ name: 'alice-reads-b', subjects: { users: ['alice'] }, actions: ['read'], targets: 'team=b' });
      expect(readB.status, readB.text).toBe(201);
      const res = await alice.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'team in (a,b)' } });
      await admin.vmo.policies.delete('alice-reads-b');
      expect(res.status, res.text).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'target_forbidden', details: { action: 'run', targets: ['b-1', 'hb@default'], total: 2 } });
      // A machine she may not read, named explicitly, is nobody to her: the 422 of an unknown agent (runs-target-visibility.e2e.test.ts).
      const listed = await alice.request('POST', '/v1/runs', { command: 'true', targets: { agents: ['a-1', 'b-1'] } });
      expect(listed.body.error).toMatchObject({ code: 'unknown_agent', details: { value: 'b-1' } });
      expect([await count('runs'), await count('jobs')]).toEqual([runs, jobs]);
    });

    it('an operator of team=a runs on team=a and follows the run', async () => {
      const res = await alice.request('POST', '/v1/runs', { command: 'echo from-a', targets: { selector: 'team=a', kinds: ['agent'] } });
      expect(res.status, res.text).toBe(201);
      await waitFor('the run to succeed', async () => ((await alice.request('GET', `/v1/runs/${res.body.id}`)).body.status === 'succeeded' ? true : undefined), 30_000);
      expect((await alice.request('GET', `/v1/runs/${res.body.id}/summary`)).status).toBe(200);
      expect(((await alice.request('GET', '/v1/runs')).body.items as { id: string }[]).map((r) => r.id)).toContain(res.body.id);
    });

    it("a run with a team-b target is 404 to an operator of team=a on every run route and stream, and absent from lists", async () => {
      const none = 'run_00000000000000000000';
      for (const [method, path, body] of [
        ['GET', (id: string) => `/v1/runs/${id}`],
        ['GET', (id: string) => `/v1/runs/${id}/jobs`],
        ['GET', (id: string) => `/v1/runs/${id}/summary`],
        ['POST', (id: string) => `/v1/runs/${id}/cancel`, {}],
      ] as const) {
        const hidden = await alice.request(method, path(runB), body);
        const missing = await alice.request(method, path(none), body);
        expect(hidden.status, `${method} ${path(runB)}: ${hidden.text}`).toBe(404);
        expect(hidden.text.replaceAll(runB, '<id>')).toBe(missing.text.replaceAll(none, '<id>'));
      }
      const stream = await openWebSocket(`${system.apiUrls[0]}/v1/runs/${runB}/stream`, { token: alice.token! });
      expect(stream.kind === 'refused' && stream.status).toBe(404);
      expect(((await alice.request('GET', '/v1/runs')).body.items as { id: string }[]).map((r) => r.id)).not.toContain(runB);
      // ?run= of a run one may not see answers as for no run at all.
      const byRun = await alice.request('GET', `/v1/jobs?run=${runB}`);
      const byNone = await alice.request('GET', `/v1/jobs?run=${none}`);
      expect(byRun.status).toBe(422);
      expect(byRun.text.replaceAll(runB, '<id>')).toBe(byNone.text.replaceAll(none, '<id>'));
      // Its child on a-1 is alice's to see (team=a); the one on b-1 is not.
      const children = (await admin.request('GET', `/v1/runs/${runB}/jobs`)).body.items as { id: string; target: { name: string } }[];
      const onA = children.find((c) => c.target.name === 'a-1')!;
      const onB = children.find((c) => c.target.name === 'b-1')!;
      expect((await alice.request('GET', `/v1/jobs/${onA.id}`)).status).toBe(200);
      expect((await alice.request('GET', `/v1/jobs/${onB.id}`)).status).toBe(404);
      expect((await admin.request('GET', `/v1/runs/${runB}`)).status).toBe(200);
    });
  });

  describe('the local target', () => {
    it('is admins\' only: an operator without a local policy is 403 naming it', async () => {
      const res = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } });
      expect(res.status, res.text).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'target_forbidden', details: { targets: ['local'] } });
    });

    it('a policy with local=true grants it: the job runs and its owner sees it; others do not', async () => {
      const res = await lou.request('POST', '/v1/jobs', { command: 'echo local-by-policy', target: { type: 'local' } });
      expect(res.status, res.text).toBe(201);
      expect((await lou.waitForEnd(res.body.id)).status).toBe('succeeded');
      expect((await lou.logs(res.body.id)).toString()).toBe('local-by-policy\n');
      expect((await alice.request('GET', `/v1/jobs/${res.body.id}`)).status).toBe(404);
      // lou may run there, nowhere else: a-1 is not hers to read, so it is nobody to her.
      const elsewhere = await lou.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'a-1' } });
      expect([elsewhere.status, elsewhere.body.error?.code], elsewhere.text).toEqual([422, 'unknown_agent']);
      expect((await admin.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } })).status).toBe(201);
    });
  });

  describe('inventory', () => {
    const names = async (c: ApiClient, path: string) => ((await c.request('GET', path)).body.items as { name: string }[]).map((x) => x.name).sort();

    it('agents, hosts and GET /v1/targets list what a policy lets the caller read', async () => {
      expect(await names(alice, '/v1/agents')).toEqual(['a-1']);
      expect(await names(vera, '/v1/agents')).toEqual(['b-1']);
      expect(await names(admin, '/v1/agents')).toEqual(['a-1', 'b-1']);
      expect(await names(alice, '/v1/hosts')).toEqual(['ha']);
      expect(await names(alice, '/v1/targets')).toEqual(['a-1', 'ha@default']);
      expect((await alice.request('GET', '/v1/targets')).body.total).toBe(2);
      expect(await names(lou, '/v1/agents')).toEqual([]);
    });

    it('one agent or host the caller may not read is 404, as one that does not exist', async () => {
      expect((await alice.request('GET', '/v1/agents/a-1')).status).toBe(200);
      for (const path of ['/v1/agents/b-1', '/v1/hosts/hb']) {
        const res = await alice.request('GET', path);
        expect(res.status, path).toBe(404);
      }
    });

    it('writing the inventory is admins\' only', async () => {
      for (const [method, path, body] of [
        ['POST', '/v1/agents', { name: 'sneaky' }],
        ['PATCH', '/v1/agents/a-1', { labels: { team: 'b' } }],
        ['DELETE', '/v1/agents/a-1'],
        ['POST', '/v1/hosts', { name: 'sneaky', host: 'x', user: 'y' }],
        ['PATCH', '/v1/hosts/ha', { labels: {} }],
        ['DELETE', '/v1/hosts/ha'],
      ] as const) {
        const res = await alice.request(method, path, body);
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(403);
      }
      expect(await names(admin, '/v1/agents')).toEqual(['a-1', 'b-1']);
    });
  });

  describe('POST /v1/policies', () => {
    it('is admins\' only, listing too', async () => {
      expect((await alice.request('POST', '/v1/policies', { name: 'mine', subjects: { users: ['alice'] }, actions: ['run'], targets: '' })).status).toBe(403);
      expect((await alice.request('GET', '/v1/policies')).status).toBe(403);
      expect((await alice.request('DELETE', '/v1/policies/team-a')).status).toBe(403);
    });

    it('bad input is a 4xx naming the field, and nothing is created', async () => {
      const before = await count('policies');
      const base = { name: 'p', subjects: { roles: ['operator'] }, actions: ['read'], targets: 'team=a' };
      const cases: [Record<string, unknown>, number, string, string][] = [
        [{ ...base, targets: 'team in (a' }, 400, 'validation_failed', 'targets'],
        [{ ...base, targets: 'team=a,,' }, 400, 'validation_failed', 'targets'],
        [{ ...base, subjects: { users: ['alice', 'nobody-at-all'] } }, 422, 'unknown_user', 'subjects.users.1'],
        [{ ...base, subjects: {} }, 400, 'validation_failed', 'subjects'],
        [{ ...base, subjects: { roles: ['admin'] } }, 400, 'validation_failed', 'subjects.roles.0'],
        [{ ...base, subjects: undefined }, 400, 'validation_failed', 'subjects'],
        [{ ...base, actions: ['fly'] }, 400, 'validation_failed', 'actions.0'],
        [{ ...base, actions: [] }, 400, 'validation_failed', 'actions'],
        [{ ...base, targets: undefined }, 400, 'validation_failed', 'targets'],
        [{ ...base, name: '' }, 400, 'validation_failed', 'name'],
        [{ ...base, extra: 1 }, 400, 'validation_failed', 'body'],
        [{ ...base, name: 'team-a' }, 409, 'policy_exists', 'name'],
        [{ ...base, local: 'yes' }, 400, 'validation_failed', 'local'],
      ];
      for (const [body, status, code, field] of cases) {
        const res = await policy(body);
        expect([res.status, res.body.error?.code], `${JSON.stringify(body)}: ${res.text}`).toEqual([status, code]);
        if (code !== 'validation_failed' || field !== 'body') expect(res.body.error.details?.field ?? res.body.error.message.split(':')[0], JSON.stringify(body)).toBe(field);
      }
      const parse = await policy({ ...base, targets: 'team in (a' });
      expect(parse.body.error.details.position).toBe(10);
      expect(parse.body.error.message).toMatch(/^targets: at position 10/);
      expect(await count('policies')).toBe(before);
      expect((await admin.request('DELETE', '/v1/policies/no-such-policy')).status).toBe(404);
    });

    it('lists policies with their users by name; a deletion binds the next request', async () => {
      const list = await admin.request('GET', '/v1/policies');
      expect(list.status).toBe(200);
      const teamA = (list.body.items as { name: string }[]).find((p) => p.name === 'team-a');
      expect(teamA).toMatchObject({ subjects: { users: [{ name: 'alice' }], roles: [] }, actions: ['run', 'cancel'], targets: 'team=a', local: false, createdBy: expect.any(String) });
      // The typed client checks every answer against the contract.
      expect((await admin.vmo.policies.list({ limit: 1 })).nextCursor).not.toBeNull();
      expect((await admin.vmo.policies.list()).items.map((p) => p.name)).toEqual(['lou-local', 'team-a', 'viewers-read-b']);
      const created = await policy({ name: 'temp', subjects: { users: ['alice'] }, actions: ['run'], targets: 'team=b', local: false });
      expect(created.status, created.text).toBe(201);
      expect(created.headers.get('location')).toBe(`/v1/policies/${created.body.id}`);
      const onB = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'b-1' } });
      expect(onB.status, onB.text).toBe(201);
      expect((await alice.request('GET', `/v1/jobs/${jobB}`)).status).toBe(200); // run implies read
      await admin.vmo.policies.delete('temp'); // by name
      // b-1 is hidden from her again: nobody, as an agent that does not exist.
      const after = await alice.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'b-1' } });
      expect([after.status, after.body.error?.code], after.text).toEqual([422, 'unknown_agent']);
      expect((await alice.request('GET', `/v1/jobs/${jobB}`)).status).toBe(404);
      // Her own job on b-1 stays hers to see.
      expect((await alice.request('GET', `/v1/jobs/${onB.body.id}`)).status).toBe(200);
    });
  });

  describe('what authorization judges an agent by', () => {
    it("labels an agent reports about itself grant nothing: one saying team=b (--labels) is not visible nor runnable for team b", async () => {
      const res = await admin.request('POST', '/v1/users', { name: 'bea', role: 'operator' });
      expect(res.status, res.text).toBe(201);
      expect((await policy({ name: 'team-b', subjects: { users: ['bea'] }, actions: ['run', 'cancel'], targets: 'team=b' })).status).toBe(201);
      const bea = system.clientFor(0, await token('bea'));
      const spoof = await system.startAgent('spoof', { args: ['--labels', 'team=b'] });
      // The merged view shows what it says (selectors of runs and previews still see it) …
      await waitFor('spoof reports team=b', async () => ((await admin.request('GET', `/v1/agents/${spoof.id}`)).body.labels?.team === 'b' ? true : undefined), 20_000, 50);
      // … but policies see only labels an admin set.
      expect((await bea.request('GET', '/v1/agents/spoof')).status).toBe(404);
      expect(((await bea.request('GET', '/v1/agents')).body.items as { name: string }[]).map((a) => a.name)).toEqual(['b-1']);
      expect(((await bea.request('GET', '/v1/targets')).body.items as { name: string }[]).map((a) => a.name).sort()).toEqual(['b-1', 'hb@default']);
      // Not hers to read, so nobody to her: the 422 of an agent that does not exist.
      const run = await bea.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'spoof' } });
      const nobody = await bea.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'zz-9' } });
      expect([run.status, run.body.error?.code], run.text).toEqual([422, 'unknown_agent']);
      expect(run.text.replace('spoof', 'zz-9')).toBe(nobody.text);
      expect((await bea.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'b-1' } })).status).toBe(201);
      await admin.request('DELETE', `/v1/agents/${spoof.id}`);
    });

    it('the built-in agent is the local target: a policy with targets "" does not grant it, a local=true policy does', async () => {
      const builtin = await admin.request('POST', '/v1/agents', { name: 'local', labels: { builtin: 'true' } });
      expect(builtin.status, builtin.text).toBe(201);
      const res = await admin.request('POST', '/v1/users', { name: 'evan', role: 'operator' });
      expect(res.status, res.text).toBe(201);
      expect((await policy({ name: 'evan-everywhere', subjects: { users: ['evan'] }, actions: ['run'], targets: '' })).status).toBe(201);
      const evan = system.clientFor(0, await token('evan'));
      // Not his to read (only `local` grants it), so nobody to him, as in a run's agent list; the
      // `local` target itself stays the 403 naming it.
      const refused = await evan.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'local' } });
      expect([refused.status, refused.body.error?.code], refused.text).toEqual([422, 'unknown_agent']);
      const localTarget = await evan.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } });
      expect(localTarget.status, localTarget.text).toBe(403);
      expect(localTarget.body.error).toMatchObject({ code: 'target_forbidden', details: { targets: ['local'] } });
      expect((await evan.request('GET', '/v1/agents/local')).status).toBe(404);
      expect(((await evan.request('GET', '/v1/agents')).body.items as { name: string }[]).map((a) => a.name)).not.toContain('local');
      expect((await evan.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'a-1' } })).status).toBe(201);
      // lou's policy has local=true.
      expect((await lou.request('GET', '/v1/agents/local')).status).toBe(200);
      const granted = await lou.request('POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'local' } });
      expect(granted.status, granted.text).toBe(201);
      await admin.request('DELETE', `/v1/agents/${builtin.body.id}`);
    });
  });
});
