/**
 * GET /v1/jobs?createdBy= (issue 13, the dashboard's creator filter): the jobs a user submitted,
 * named by id or name (a renamed user's older jobs too), combined with the other filters and keyset
 * paging; a user that is nobody is 422 `unknown_user`, and to a caller who is not an admin so is a
 * user other than themselves with no job they may see (no oracle for the names of users, which only
 * admins may list). On a real system; then the statement's plan over 60,000 jobs uses the owner
 * index, never a sequential scan.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listJobsStatement } from '@vmo/shared/jobs';
import { createTestDatabase, TestSystem, type ApiClient, type TestDatabase } from '@vmo/testkit';

describe('GET /v1/jobs?createdBy= (real system)', () => {
  let system: TestSystem;
  const ids: Record<string, string> = {};
  const users: Record<string, { id: string; client: ApiClient }> = {};

  /** The job names a query answers, newest first. */
  const found = async (client: ApiClient, query: string) => {
    const res = await client.request('GET', `/v1/jobs${query}`);
    expect(res.status, res.text).toBe(200);
    const byId = Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name]));
    return (res.body as { items: { id: string }[] }).items.map((j) => byId[j.id] ?? j.id);
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'find_jobs_created_by' });
    for (const [name, role] of [['ada', 'admin'], ['olga', 'operator'], ['vic', 'viewer']] as const) {
      const user = await system.client.vmo.users.create({ name, role });
      const { token } = await system.client.vmo.tokens.create({ name: `${name}-token`, user: name });
      users[name] = { id: user.id, client: system.clientFor(0, token) };
    }
    // olga may run on the worker's own machine (and so read what runs there); vic may read nothing.
    await system.client.vmo.policies.create({ name: 'olga-local', subjects: { users: ['olga'] }, actions: ['run'], local: true });
    // In this order: newest first is the reverse.
    const submit = async (name: string, client: ApiClient, command: string) => {
      ids[name] = (await client.submit({ command, target: { type: 'local' } })).id;
      await client.waitForEnd(ids[name]!);
    };
    await submit('bootstrap-1', system.client, 'true');
    await submit('ada-ok', users.ada!.client, 'true');
    await submit('olga-1', users.olga!.client, 'true');
    await submit('ada-fail', users.ada!.client, 'exit 3');
    await submit('olga-2', users.olga!.client, 'true');
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('lists the jobs a user submitted, by name or id, with other filters and keyset paging', async () => {
    expect(await found(system.client, '?createdBy=ada')).toEqual(['ada-fail', 'ada-ok']);
    expect(await found(system.client, `?createdBy=${users.ada!.id}`)).toEqual(['ada-fail', 'ada-ok']);
    expect(await found(system.client, '?createdBy=olga')).toEqual(['olga-2', 'olga-1']);
    expect(await found(system.client, '?createdBy=ada&status=failed')).toEqual(['ada-fail']);
    expect(await found(system.client, '?createdBy=vic')).toEqual([]);
    // The typed client sends it too.
    const typed = await users.ada!.client.vmo.jobs.list({ createdBy: 'olga', status: ['succeeded'] });
    expect(typed.items.map((j) => j.id)).toEqual([ids['olga-2'], ids['olga-1']]);
    expect(typed.items.map((j) => j.createdBy)).toEqual(['olga', 'olga']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await system.client.vmo.jobs.list({ createdBy: 'ada', limit: 1, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([ids['ada-fail'], ids['ada-ok']]);
  });

  it('finds a renamed user\'s jobs by the new name: the filter is who owns the job, not the name stored with it', async () => {
    await system.client.vmo.users.update('ada', { name: 'ada-renamed' });
    try {
      expect(await found(system.client, '?createdBy=ada-renamed')).toEqual(['ada-fail', 'ada-ok']);
      const old = await system.client.request('GET', '/v1/jobs?createdBy=ada');
      expect([old.status, old.body.error?.code]).toEqual([422, 'unknown_user']);
    } finally {
      await system.client.vmo.users.update('ada-renamed', { name: 'ada' });
    }
  });

  it('answers 422 unknown_user for a user that is nobody, not an empty page', async () => {
    const res = await system.client.request('GET', '/v1/jobs?createdBy=nobody-here');
    expect([res.status, res.body.error.code]).toEqual([422, 'unknown_user']);
    expect(res.body.error.message).toMatch(/^createdBy: .*"nobody-here"/);
    const empty = await system.client.request('GET', '/v1/jobs?createdBy=');
    expect([empty.status, empty.body.error.code]).toEqual([400, 'validation_failed']);
  });

  it('to a non-admin, a user with no job they may see is nobody, as one that does not exist; themselves always', async () => {
    const vic = users.vic!.client;
    // Herself, with no jobs: an empty page.
    expect(await found(vic, '?createdBy=vic')).toEqual([]);
    expect(await found(vic, `?createdBy=${users.vic!.id}`)).toEqual([]);
    // Others exist, but she may see none of their jobs: the same answer as for a made-up name.
    const hidden = await vic.request('GET', '/v1/jobs?createdBy=olga');
    const made_up = await vic.request('GET', '/v1/jobs?createdBy=nobody-here');
    expect([hidden.status, hidden.body.error.code]).toEqual([422, 'unknown_user']);
    expect(hidden.body.error.message.replace('olga', 'X')).toBe(made_up.body.error.message.replace('nobody-here', 'X'));
    const admin = await vic.request('GET', '/v1/jobs?createdBy=ada');
    expect([admin.status, admin.body.error.code]).toEqual([422, 'unknown_user']);

    // olga sees her own, and the local jobs her policy lets her read: ada's among them.
    const olga = users.olga!.client;
    expect(await found(olga, '?createdBy=olga')).toEqual(['olga-2', 'olga-1']);
    expect(await found(olga, '?createdBy=ada')).toEqual(['ada-fail', 'ada-ok']);
  });
});

describe('GET /v1/jobs?createdBy= query plan', () => {
  const ROWS = 60_000;
  let testDb: TestDatabase;
  let sql: postgres.Sql;

  beforeAll(async () => {
    testDb = await createTestDatabase('created_by_plan');
    sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
    // 200 users, one in ten jobs from the bootstrap token (no owner).
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, created_by, owner_id, created_at)
      select 'job_' || lpad(g::text, 20, '0'),
             (array['succeeded','failed','lost','canceled'])[1 + g % 4],
             'true', '{"type":"local"}'::jsonb, 1000,
             'user' || (g % 200),
             case when g % 10 = 0 then null else 'usr_' || lpad((g % 200)::text, 20, '0') end,
             now() - make_interval(secs => ${ROWS} - g)
      from generate_series(1, ${ROWS}) g`;
    await sql`analyze jobs`;
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await testDb?.drop();
  });

  it.each([
    ['a creator', {}],
    ['a creator, deep in their jobs', { cursor: `job_${String(ROWS / 2 + 7).padStart(20, '0')}` }],
    ['a creator and a status', { status: ['failed' as const] }],
  ])('%s: the owner index, no sequential scan', async (_what, q) => {
    const [row] = await sql`explain (format json) ${listJobsStatement(sql, { limit: 50, ownerId: `usr_${'7'.padStart(20, '0')}`, ...q })}`;
    const plan = JSON.stringify(row!['QUERY PLAN']);
    expect(plan).not.toContain('Seq Scan');
    expect(plan).toMatch(/"Index Name":"jobs_(owner_created|status_created)_idx"/);
    if (!('status' in q)) expect(plan).toContain('"Index Name":"jobs_owner_created_idx"');
  });
});
