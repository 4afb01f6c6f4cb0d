/**
 * Issue 14, Schedules: the REST side on a real system (API and worker processes, Postgres,
 * Redis). Create, list (keyset), read (next five ticks in the schedule's zone, last fires with
 * their job's status), change, pause and resume, delete, trigger; bad input on every field is a
 * 4xx naming it with NOTHING changed (rows compared before and after); a schedule is its owner's
 * and the admins' (404 to anyone else); its body is judged as its owner's submission, when it is
 * written and at every tick: an owner who lost the right gets failed fires with the refusal as the
 * reason. Every answer is checked against its route's contract and the served OpenAPI document;
 * the audit rows of every request are checked by TestSystem.stop().
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createSchedule, deleteSchedule, getSchedule, listSchedules, triggerSchedule, updateSchedule, type ApiRoute } from '@vmo/shared/api';
import { scheduleClock } from '@vmo/shared/schedules';
import { TestSystem, waitFor, type ApiClient, type ApiResponse } from '@vmo/testkit';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
const UNKNOWN = 'sch_0123456789abcdefghij';
/** Never in this test's lifetime: 03:04:05 on 6 July, in Berlin. */
const RARELY = '5 4 3 6 7 *';

describe('the schedules API (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let doc: Doc;
  let admin: ApiClient;
  /** Operator with a policy granting `run` on the local target. */
  let olga: ApiClient;
  let olgaId: string;
  /** Operator with no policy at all. */
  let pete: ApiClient;
  /** Viewer. */
  let vera: ApiClient;

  const token = async (user: string): Promise<string> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'schedules_api' });
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
    expect((await admin.request('POST', '/v1/policies', { name: 'olga-local', subjects: { users: ['olga'] }, actions: ['run'], local: true })).status).toBe(201);
    // Registered, never connected: a run's selector resolves to them (offline agents are targets).
    for (const name of ['web-1', 'web-2']) expect((await admin.request('POST', '/v1/agents', { name, labels: { role: 'web' } })).status).toBe(201);
    const res = await admin.request('GET', '/v1/openapi.json');
    doc = res.body as Doc;
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
    schedules: await sql`select * from schedules order by id`,
    fires: await sql`select * from schedule_fires order by schedule_id, kind, at`,
    jobs: Number((await sql`select count(*)::int as n from jobs`)[0]!.n),
  });

  const nightly = { name: 'nightly-backup', cron: '30 2 * * *', timezone: 'Europe/Berlin', job: { command: 'echo backup' } };

  it('creates a schedule: 201, Location, the body with its defaults, and the next five ticks in its zone', async () => {
    const res = await call(createSchedule, '/v1/schedules', nightly);
    expect(res.status, res.text).toBe(201);
    const s = res.body;
    expect(s.id).toMatch(/^sch_[0-9a-z]{20}$/);
    expect(res.headers.get('location')).toBe(`/v1/schedules/${s.id}`);
    expect(s).toMatchObject({ name: 'nightly-backup', cron: '30 2 * * *', timezone: 'Europe/Berlin', overlap: 'skip', catchUp: 'none', paused: false, run: null, ownerId: null, lastFires: [] });
    expect(s.job).toMatchObject({ command: 'echo backup', target: { type: 'local' }, env: {}, labels: {}, timeoutMs: 3_600_000 });
    expect(s.nextFires).toHaveLength(5);
    // Each is 02:30 in Berlin (CET or CEST, or 03:00 on a spring-forward day), a day apart, after now.
    const expected = scheduleClock('30 2 * * *', 'Europe/Berlin').nextTicks(5, new Date(Date.parse(s.createdAt))).map((d) => d.toISOString());
    expect(s.nextFires).toEqual(expected);
    for (const t of s.nextFires as string[]) expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(new Date(t))).toMatch(/^(02:30|03:00)$/);

    const got = await call(getSchedule, `/v1/schedules/${s.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ ...s, nextFires: expect.any(Array) });
  });

  it('lists schedules newest first, keyset paged, each with its next ticks and last fire', async () => {
    for (const name of ['list-a', 'list-b', 'list-c']) expect((await call(createSchedule, '/v1/schedules', { name, cron: RARELY, job: { command: 'true' }, paused: true })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse = await call(listSchedules, `/v1/schedules?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((s: { name: string }) => s.name));
      for (const item of res.body.items) expect(item).toHaveProperty('lastFire');
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.slice(0, 4)).toEqual(['list-c', 'list-b', 'list-a', 'nightly-backup']);
    const paused = (await call(listSchedules, '/v1/schedules?limit=1')).body.items[0];
    expect(paused).toMatchObject({ name: 'list-c', paused: true, nextFires: [], lastFire: null });
  });

  it('changes, pauses and resumes a schedule; a new expression or zone moves the next ticks', async () => {
    const created = (await call(createSchedule, '/v1/schedules', { name: 'to-change', cron: '0 9 * * 1-5', job: { command: 'echo a' } })).body;
    const paused = await call(updateSchedule, `/v1/schedules/${created.id}`, { paused: true });
    expect(paused.status, paused.text).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, nextFires: [] });
    const resumed = await call(updateSchedule, `/v1/schedules/${created.id}`, { paused: false, timezone: 'America/New_York', overlap: 'queue', catchUp: 'latest', name: 'changed' });
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body).toMatchObject({ name: 'changed', paused: false, timezone: 'America/New_York', overlap: 'queue', catchUp: 'latest' });
    expect(resumed.body.nextFires).toEqual(scheduleClock('0 9 * * 1-5', 'America/New_York').nextTicks(5, new Date(Date.parse(resumed.body.updatedAt))).map((d) => d.toISOString()));
    // A run replaces the job.
    const toRun = await call(updateSchedule, `/v1/schedules/${created.id}`, { run: { command: 'uptime', targets: { selector: 'role=web' }, strategy: { maxConcurrency: 1 } } });
    expect(toRun.status, toRun.text).toBe(200);
    expect(toRun.body.job).toBeNull();
    expect(toRun.body.run).toMatchObject({ command: 'uptime', targets: { selector: 'role=web' }, strategy: { maxConcurrency: 1 }, offline: 'wait' });
    const row = (await sql`select next_tick_at, job, run from schedules where id = ${created.id}`)[0]!;
    expect(row.job).toBeNull();
    expect(new Date(row.next_tick_at).toISOString()).toBe(resumed.body.nextFires[0]);
  });

  it('deletes a schedule: 204, then 404 on every route of it', async () => {
    const created = (await call(createSchedule, '/v1/schedules', { name: 'to-delete', cron: RARELY, job: { command: 'true' } })).body;
    expect((await call(deleteSchedule, `/v1/schedules/${created.id}`)).status).toBe(204);
    expect((await call(getSchedule, `/v1/schedules/${created.id}`)).status).toBe(404);
    expect((await call(deleteSchedule, `/v1/schedules/${created.id}`)).status).toBe(404);
    expect((await call(updateSchedule, `/v1/schedules/${created.id}`, { paused: true })).status).toBe(404);
    expect((await call(triggerSchedule, `/v1/schedules/${created.id}/trigger`)).status).toBe(404);
    expect((await sql`select count(*)::int as n from schedules where id = ${created.id}`)[0]!.n).toBe(0);
  });

  it('trigger fires it now as a job, records the fire, and does not take the next tick', async () => {
    const created = (await call(createSchedule, '/v1/schedules', { name: 'triggered', cron: RARELY, job: { command: 'echo triggered' }, paused: true })).body;
    const before = (await call(updateSchedule, `/v1/schedules/${created.id}`, { paused: false })).body.nextFires;
    const res = await call(triggerSchedule, `/v1/schedules/${created.id}/trigger`);
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ kind: 'trigger', outcome: 'fired', runId: null, reason: null });
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.body.jobId}`);
    const job = await admin.waitForEnd(res.body.jobId);
    expect(job).toMatchObject({ status: 'succeeded', command: 'echo triggered' });
    expect((await admin.logs(job.id)).toString()).toBe('triggered\n');
    const after = (await call(getSchedule, `/v1/schedules/${created.id}`)).body;
    expect(after.nextFires).toEqual(before);
    expect(after.lastFires).toEqual([expect.objectContaining({ kind: 'trigger', outcome: 'fired', jobId: job.id, status: 'succeeded' })]);
    // A paused schedule may be triggered too.
    await call(updateSchedule, `/v1/schedules/${created.id}`, { paused: true });
    const again = await call(triggerSchedule, `/v1/schedules/${created.id}/trigger`);
    expect(again.status, again.text).toBe(201);
    expect(again.body.jobId).not.toBe(job.id);
  });

  it('a scheduled run: trigger creates the run over the targets its selector matches now', async () => {
    const created = (await call(createSchedule, '/v1/schedules', { name: 'fleet-uptime', cron: RARELY, run: { command: 'uptime', targets: { selector: 'role=web' }, offline: 'skip' } })).body;
    const res = await call(triggerSchedule, `/v1/schedules/${created.id}/trigger`);
    expect(res.status, res.text).toBe(201);
    expect(res.body.runId).toMatch(/^run_/);
    expect(res.headers.get('location')).toBe(`/v1/runs/${res.body.runId}`);
    const run = await admin.request('GET', `/v1/runs/${res.body.runId}`);
    expect(run.body).toMatchObject({ command: 'uptime', total: 2 });
  });

  describe('bad input: a 4xx naming the field, nothing changed', () => {
    const base = { name: 'bad-input', cron: '*/5 * * * *', job: { command: 'true' } };
    const cases: [string, unknown, number, string, string | undefined][] = [
      ['no name', { ...base, name: undefined }, 400, 'validation_failed', 'name'],
      ['empty name', { ...base, name: '' }, 400, 'validation_failed', 'name'],
      ['name with spaces around', { ...base, name: ' x ' }, 400, 'validation_failed', 'name'],
      ['name too long', { ...base, name: 'x'.repeat(101) }, 400, 'validation_failed', 'name'],
      ['name not a string', { ...base, name: 7 }, 400, 'validation_failed', 'name'],
      ['name with NUL', { ...base, name: 'a\u0000b' }, 400, 'validation_failed', 'name'],
      ['no cron', { ...base, cron: undefined }, 400, 'validation_failed', 'cron'],
      ['cron minute 61', { ...base, cron: '61 * * * *' }, 400, 'validation_failed', 'cron'],
      ['cron of 3 fields', { ...base, cron: '* * *' }, 400, 'validation_failed', 'cron'],
      ['cron of 7 fields', { ...base, cron: '0 0 0 1 1 * 2030' }, 400, 'validation_failed', 'cron'],
      ['cron that never fires', { ...base, cron: '0 0 30 2 *' }, 400, 'validation_failed', 'cron'],
      ['cron not a string', { ...base, cron: 5 }, 400, 'validation_failed', 'cron'],
      ['unknown timezone', { ...base, timezone: 'Mars/Olympus_Mons' }, 400, 'validation_failed', 'timezone'],
      ['empty timezone', { ...base, timezone: '' }, 400, 'validation_failed', 'timezone'],
      ['timezone not a string', { ...base, timezone: 2 }, 400, 'validation_failed', 'timezone'],
      ['neither job nor run', { name: 'x', cron: '* * * * *' }, 400, 'validation_failed', 'job'],
      ['both job and run', { ...base, run: { command: 'true', targets: { selector: 'role=web' } } }, 400, 'validation_failed', 'run'],
      ['job without command', { ...base, job: {} }, 400, 'validation_failed', 'job.command'],
      ['job with an unknown field', { ...base, job: { command: 'true', timeout: 5 } }, 400, 'validation_failed', 'job'],
      ['job with secretEnv', { ...base, job: { command: 'true', secretEnv: { TOKEN: 'abcdefgh' } } }, 400, 'validation_failed', 'job.secretEnv'],
      ['job with runAt', { ...base, job: { command: 'true', runAt: '2030-01-01T00:00:00Z' } }, 400, 'validation_failed', 'job.runAt'],
      ['run with runAt', { ...base, job: undefined, run: { command: 'true', targets: { selector: 'role=web' }, runAt: '2030-01-01T00:00:00Z' } }, 400, 'validation_failed', 'run.runAt'],
      ['job on an unknown agent', { ...base, job: { command: 'true', target: { type: 'agent', agent: 'nobody' } } }, 422, 'unknown_agent', 'job.target'],
      ['job on an unknown host', { ...base, job: { command: 'true', target: { type: 'ssh', host: 'nowhere' } } }, 422, 'unknown_host', 'job.target'],
      ['run whose selector does not parse', { ...base, job: undefined, run: { command: 'true', targets: { selector: 'role in (web' } } }, 400, 'validation_failed', 'run.targets.selector'],
      ['run that matches nothing', { ...base, job: undefined, run: { command: 'true', targets: { selector: 'role=db' } } }, 422, 'no_targets', 'run.targets'],
      ['run whose canary is too big', { ...base, job: undefined, run: { command: 'true', targets: { selector: 'role=web' }, strategy: { canary: { count: 5 } } } }, 422, 'invalid_strategy', 'run.strategy.canary.count'],
      ['unknown overlap', { ...base, overlap: 'sometimes' }, 400, 'validation_failed', 'overlap'],
      ['unknown catchUp', { ...base, catchUp: 'all' }, 400, 'validation_failed', 'catchUp'],
      ['paused not a boolean', { ...base, paused: 'yes' }, 400, 'validation_failed', 'paused'],
      ['an unknown field', { ...base, retry: { max: 3 } }, 400, 'validation_failed', undefined],
      ['a name already taken', { ...base, name: 'nightly-backup' }, 409, 'schedule_exists', 'name'],
    ];
    it.each(cases)('POST with %s', async (_what, body, status, code, field) => {
      const before = await snapshot();
      const res = await call(createSchedule, '/v1/schedules', body);
      expect(res.status, res.text).toBe(status);
      expect(res.body.error.code).toBe(code);
      if (field !== undefined) {
        expect(res.body.error.details?.field).toBe(field);
        expect(res.body.error.message.startsWith(field) || res.body.error.message.startsWith(`${field.split('.')[0]}`)).toBe(true);
      }
      expect(await snapshot()).toEqual(before);
    });

    it('POST with a body that is not JSON, or not an object', async () => {
      const before = await snapshot();
      for (const body of ['{"name":', '[1,2]']) {
        const res = await admin.request('POST', '/v1/schedules', body);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('invalid_json');
      }
      expect(await snapshot()).toEqual(before);
    });

    it('PATCH with a bad value of each field, both job and run, or an unknown id', async () => {
      const target = (await call(createSchedule, '/v1/schedules', { name: 'patch-target', cron: RARELY, job: { command: 'true' } })).body;
      const patches: [unknown, number, string, string | undefined][] = [
        [{ name: '' }, 400, 'validation_failed', 'name'],
        [{ name: 'nightly-backup' }, 409, 'schedule_exists', 'name'],
        [{ cron: '* * 32 * *' }, 400, 'validation_failed', 'cron'],
        [{ timezone: 'Europe/Nowhere' }, 400, 'validation_failed', 'timezone'],
        [{ job: { command: '' } }, 400, 'validation_failed', 'job.command'],
        [{ job: { command: 'true' }, run: { command: 'true', targets: { selector: 'role=web' } } }, 400, 'validation_failed', 'run'],
        [{ run: { command: 'true', targets: {} } }, 400, 'validation_failed', 'run.targets'],
        [{ overlap: 'never' }, 400, 'validation_failed', 'overlap'],
        [{ catchUp: 'every' }, 400, 'validation_failed', 'catchUp'],
        [{ paused: 1 }, 400, 'validation_failed', 'paused'],
        [{ ownerId: 'usr_x' }, 400, 'validation_failed', undefined],
      ];
      for (const [patch, status, code, field] of patches) {
        const before = await snapshot();
        const res = await call(updateSchedule, `/v1/schedules/${target.id}`, patch);
        expect(res.status, `${JSON.stringify(patch)}: ${res.text}`).toBe(status);
        expect(res.body.error.code).toBe(code);
        if (field !== undefined) expect(res.body.error.details?.field, JSON.stringify(patch)).toBe(field);
        expect(await snapshot(), JSON.stringify(patch)).toEqual(before);
      }
      for (const id of [UNKNOWN, 'not-an-id']) {
        expect((await call(updateSchedule, `/v1/schedules/${id}`, { paused: true })).status).toBe(404);
        expect((await call(getSchedule, `/v1/schedules/${id}`)).status).toBe(404);
        expect((await call(deleteSchedule, `/v1/schedules/${id}`)).status).toBe(404);
        expect((await call(triggerSchedule, `/v1/schedules/${id}/trigger`)).status).toBe(404);
      }
    });

    it('GET /v1/schedules with a bad limit, cursor or an unknown parameter', async () => {
      for (const [query, field] of [['limit=0', 'limit'], ['limit=501', 'limit'], ['cursor=nope', 'cursor'], [`cursor=${UNKNOWN}`, 'cursor'], ['owner=olga', undefined]] as const) {
        const res = await call(listSchedules, `/v1/schedules?${query}`);
        expect(res.status, query).toBe(400);
        if (field) expect(res.body.error.details?.field, query).toBe(field);
      }
    });
  });

  describe('access: a schedule is its owner\'s, and fires as them', () => {
    let olgas: string;

    it('an operator schedules what a policy lets her run; one without the policy is refused, nothing created', async () => {
      const res = await call(createSchedule, '/v1/schedules', { name: 'olga-local', cron: RARELY, job: { command: 'echo from-olga' } }, olga);
      expect(res.status, res.text).toBe(201);
      expect(res.body.ownerId).toBe(olgaId);
      expect(res.body.createdBy).toBe('olga');
      olgas = res.body.id;
      const before = await snapshot();
      const refused = await call(createSchedule, '/v1/schedules', { name: 'pete-local', cron: RARELY, job: { command: 'true' } }, pete);
      expect(refused.status, refused.text).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'target_forbidden', details: { field: 'job.target', targets: ['local'] } });
      const viewer = await call(createSchedule, '/v1/schedules', { name: 'vera-local', cron: RARELY, job: { command: 'true' } }, vera);
      expect(viewer.status).toBe(403);
      expect(viewer.body.error.code).toBe('forbidden');
      expect(await snapshot()).toEqual(before);
    });

    it('another operator sees nothing of it: 404 on every route, absent from his list; an admin sees it', async () => {
      expect((await call(getSchedule, `/v1/schedules/${olgas}`, undefined, pete)).status).toBe(404);
      expect((await call(updateSchedule, `/v1/schedules/${olgas}`, { paused: true }, pete)).status).toBe(404);
      expect((await call(triggerSchedule, `/v1/schedules/${olgas}/trigger`, undefined, pete)).status).toBe(404);
      expect((await call(deleteSchedule, `/v1/schedules/${olgas}`, undefined, pete)).status).toBe(404);
      expect((await call(listSchedules, '/v1/schedules', undefined, pete)).body.items).toEqual([]);
      expect((await call(listSchedules, '/v1/schedules', undefined, olga)).body.items.map((s: { id: string }) => s.id)).toEqual([olgas]);
      expect((await call(listSchedules, '/v1/schedules?limit=500', undefined, admin)).body.items.map((s: { id: string }) => s.id)).toContain(olgas);
      expect((await call(getSchedule, `/v1/schedules/${olgas}`, undefined, admin)).status).toBe(200);
      const triggered = await call(triggerSchedule, `/v1/schedules/${olgas}/trigger`, undefined, olga);
      expect(triggered.status, triggered.text).toBe(201);
      // The job is hers: she submitted it, through her schedule.
      expect((await olga.job(triggered.body.jobId)).createdBy).toBe('olga');
    });

    it('once her policy is gone, her trigger is refused and her ticks are failed fires naming the refusal', async () => {
      const policies = (await admin.request('GET', '/v1/policies')).body.items as { id: string; name: string }[];
      expect((await admin.request('DELETE', `/v1/policies/${policies.find((p) => p.name === 'olga-local')!.id}`)).status).toBe(204);
      const refused = await call(triggerSchedule, `/v1/schedules/${olgas}/trigger`, undefined, olga);
      expect(refused.status, refused.text).toBe(403);
      expect(refused.body.error.code).toBe('target_forbidden');
      // An admin's trigger runs as her too.
      expect((await call(triggerSchedule, `/v1/schedules/${olgas}/trigger`, undefined, admin)).status).toBe(403);
      // Every second, as her: each tick fails with the refusal, and no job is made.
      const jobsBefore = Number((await sql`select count(*)::int as n from jobs`)[0]!.n);
      expect((await call(updateSchedule, `/v1/schedules/${olgas}`, { cron: '* * * * * *' }, olga)).status).toBe(200);
      const failed = await waitFor('a failed tick of olga\'s schedule', async () => {
        const s = (await call(getSchedule, `/v1/schedules/${olgas}`, undefined, olga)).body;
        return s.lastFires.find((f: { kind: string; outcome: string }) => f.kind === 'tick' && f.outcome === 'failed');
      }, 30_000, 200);
      expect(failed).toMatchObject({ jobId: null, runId: null, status: null, reason: { code: 'target_forbidden' } });
      expect(failed.reason.message).toMatch(/local/);
      // Disabled, she is no one to run as: owner_cannot_run, for an admin's trigger too.
      expect((await admin.request('PATCH', '/v1/users/olga', { disabled: true })).status).toBe(200);
      const disabled = await call(triggerSchedule, `/v1/schedules/${olgas}/trigger`, undefined, admin);
      expect(disabled.status, disabled.text).toBe(422);
      expect(disabled.body.error.code).toBe('owner_cannot_run');
      await waitFor('a tick failed for a disabled owner', async () => {
        const s = (await call(getSchedule, `/v1/schedules/${olgas}`, undefined, admin)).body;
        return s.lastFires.find((f: { outcome: string; reason: { code: string } | null }) => f.outcome === 'failed' && f.reason?.code === 'owner_cannot_run');
      }, 30_000, 200);
      expect((await call(updateSchedule, `/v1/schedules/${olgas}`, { paused: true }, admin)).status).toBe(200);
      expect(Number((await sql`select count(*)::int as n from jobs`)[0]!.n)).toBe(jobsBefore);
    });
  });
});
