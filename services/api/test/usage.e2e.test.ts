/**
 * Issue 18, usage: GET /v1/usage and GET /v1/usage/overview on the API in process, over a fixture
 * of workspaces, operations and jobs written with SQL at known times (the engine that would write
 * them is the worker's). Running seconds equal the hand-computed intervals within a second, whole
 * and clipped; job seconds and output bytes are those of the jobs the workspace's agent ran
 * (retried attempts included); cost is each interval at its template version's rate. A non-admin
 * sees only their own (user= another: 403; another's workspace: 404); the overview is admins'.
 * Every answer is checked against its contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { getUsage, getUsageOverview, type ApiRoute } from '@vmo/shared/api';
import { newId } from '@vmo/shared/ids';
import { createApiToken, createUser, findUser } from '@vmo/shared/users';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

/** A fixed past instant: the fixture's operations are placed in minutes after it. */
const T0 = Date.parse('2026-06-01T00:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

describe('the usage API (in-process)', () => {
  let fixture: InProcessApp;
  /** The served OpenAPI document: every answer's status must be in it. */
  let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  let alice: string;
  let bob: string;
  let aliceId: string;
  let bobId: string;
  const ws = { a: newId('wks'), b: newId('wks'), c: newId('wks') };

  const call = async (route: ApiRoute, path: string, token: string = fixture.token) => {
    const res = await fixture.app.request(path, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    const body = text ? JSON.parse(text) : null;
    const documented = route.responses[res.status];
    expect(documented, `${route.path} answered ${res.status}, which its contract does not list: ${text}`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema as z.ZodType | undefined;
    expect(doc.paths[route.path]?.[route.method]?.responses[String(res.status)], `${route.path} ${res.status} not in the served document`).toBeDefined();
    if (schema) expect(schema.safeParse(body).success, `${route.path} ${res.status}: ${text}`).toBe(true);
    return { status: res.status, body };
  };

  beforeAll(async () => {
    fixture = await startInProcessApp('usage_api');
    const { cp } = fixture;
    const sql = cp.database.sql;
    doc = (await (await fixture.app.request('/v1/openapi.json')).json()) as typeof doc;
    for (const name of ['alice', 'bob']) await createUser(cp, { name, role: 'operator', email: null });
    const a = (await findUser(cp, 'alice'))!;
    const b = (await findUser(cp, 'bob'))!;
    aliceId = a.id;
    bobId = b.id;
    alice = (await createApiToken(cp, { user: a, name: 'alice', createdBy: 'test' })).token;
    bob = (await createApiToken(cp, { user: b, name: 'bob', createdBy: 'test' })).token;

    const tpl = newId('tpl');
    await sql`insert into templates (id, name, current_version) values (${tpl}, 'dev', 2)`;
    await sql`insert into template_versions (template_id, version, provider, cost_per_hour) values (${tpl}, 1, 'fake', 1.5), (${tpl}, 2, 'fake', 3)`;
    const agentA = newId('agt');
    const agentB = newId('agt');
    await sql`insert into agents (id, name, token_hash) values (${agentA}, 'ws-a', 'xa'), (${agentB}, 'ws-b', 'xb')`;
    await sql`
      insert into workspaces (id, name, owner_id, owner_name, template_id, template_version, agent_id, created_at, deleted_at) values
        (${ws.a}, 'a', ${aliceId}, 'alice', ${tpl}, 2, ${agentA}, ${at(-1)}, ${at(401)}),
        (${ws.b}, 'b', ${bobId}, 'bob', ${tpl}, 1, ${agentB}, ${at(-1)}, null),
        (${ws.c}, 'c', ${aliceId}, 'alice', ${tpl}, 1, null, clock_timestamp() - interval '2 hours', null)`;
    const op = (w: string, type: string, status: string, created: string, started: string | null, ended: string | null, version: number | null = null) =>
      sql`insert into workspace_operations (id, workspace_id, type, status, created_at, started_at, ended_at, template_version)
          values (${newId('wop')}, ${w}, ${type}, ${status}, ${created}, ${started}, ${ended}, ${version})`;
    // Workspace a (minutes after T0), worked out by hand:
    await op(ws.a, 'create', 'succeeded', at(0), at(1), at(5), 1); //      opens at 5 (version 1: 1.5/h)
    await op(ws.a, 'restart', 'succeeded', at(100), at(102), at(110), 1); // [5, 102] 97 min; opens at 110
    await op(ws.a, 'stop', 'canceled', at(150), null, null); //           never began: closes nothing
    await op(ws.a, 'stop', 'succeeded', at(200), at(201), at(202)); //     [110, 201] 91 min
    await op(ws.a, 'start', 'succeeded', at(300), at(300), at(303), 2); // opens at 303 (version 2: 3/h)
    await op(ws.a, 'delete', 'succeeded', at(400), at(400), at(401)); //   [303, 400] 97 min
    // Workspace b: [0, 60].
    await op(ws.b, 'create', 'succeeded', at(-1), at(-1), at(0), 1);
    await op(ws.b, 'stop', 'succeeded', at(59), at(60), at(61));
    // Workspace c: running since an hour ago (now: the overview's month).
    await sql`insert into workspace_operations (id, workspace_id, type, status, created_at, started_at, ended_at, template_version)
              values (${newId('wop')}, ${ws.c}, 'create', 'succeeded', clock_timestamp() - interval '2 hours', clock_timestamp() - interval '2 hours', clock_timestamp() - interval '1 hour', 1)`;

    // Jobs on a's agent: 10 min; a retried one (1 min, then 8 min); one begun before the window (5 min of it inside, bytes not counted).
    const job = (agent: string, started: string, finished: string, bytes: number, attempt = 1) =>
      sql`insert into jobs (id, status, command, target, timeout_ms, agent_id, started_at, finished_at, output_bytes, attempt, created_at)
          values (${newId('job')}, 'succeeded', 'true', '{"type":"agent","agent":"x"}'::jsonb, 60000, ${agent}, ${started}, ${finished}, ${bytes}, ${attempt}, ${started}) returning id`;
    await job(agentA, at(10), at(20), 1000);
    const [retried] = await job(agentA, at(32), at(40), 70, 2);
    await sql`insert into job_attempts (job_id, attempt, status, started_at, finished_at, output_bytes, retry_at) values (${retried!.id}, 1, 'failed', ${at(30)}, ${at(31)}, 50, ${at(32)})`;
    await job(agentA, at(-10), at(5), 999);
    await job(agentB, at(10), at(50), 5); // bob's
  }, 60_000);
  afterAll(() => fixture?.close());

  const near = (got: number, want: number) => expect(Math.abs(got - want), `${got} vs ${want}`).toBeLessThan(1);

  it("reports a user's workspaces: running seconds of the hand-computed intervals, cost per version, job seconds and output bytes", async () => {
    const res = await call(getUsage, `/v1/usage?from=${at(0)}&to=${at(480)}`, alice);
    expect(res.status).toBe(200);
    // c was created after the window: only a.
    expect(res.body.workspaces.map((w: { workspaceId: string }) => w.workspaceId)).toEqual([ws.a]);
    const a = res.body.workspaces[0];
    near(a.runningSeconds, (97 + 91 + 97) * 60); // 17,100 s
    expect(a.cost).toBeCloseTo(((97 + 91) / 60) * 1.5 + (97 / 60) * 3, 4); // 9.55
    expect(a).toMatchObject({ name: 'a', ownerId: aliceId, ownerName: 'alice', deleted: true, costPerHour: 3, outputBytes: 1000 + 70 + 50 });
    near(a.jobSeconds, 600 + 60 + 480 + 300);
    expect(res.body.totals).toEqual({ runningSeconds: a.runningSeconds, jobSeconds: a.jobSeconds, outputBytes: a.outputBytes, cost: a.cost });
    expect(res.body).toMatchObject({ from: at(0), to: at(480), countedUntil: at(480) });

    // Clipped: [150, 350) holds [150, 201] and [303, 350].
    const clipped = await call(getUsage, `/v1/usage?from=${at(150)}&to=${at(350)}&workspace=${ws.a}`, alice);
    near(clipped.body.workspaces[0].runningSeconds, (51 + 47) * 60);
    expect(clipped.body.workspaces[0].cost).toBeCloseTo((51 / 60) * 1.5 + (47 / 60) * 3, 4);
    // Windows that begin inside an interval opened before them (only the history from that start on is read).
    for (const [from, to, minutes] of [[120, 130, 10], [350, 480, 50], [20, 30, 10], [402, 480, 0]] as const) {
      const w = await call(getUsage, `/v1/usage?from=${at(from)}&to=${at(to)}&workspace=${ws.a}`, alice);
      expect(w.status).toBe(200);
      near(w.body.workspaces[0]?.runningSeconds ?? 0, minutes * 60);
    }
  });

  it('counts a workspace running now up to now, and defaults to this month', async () => {
    const res = await call(getUsage, `/v1/usage?workspace=c`, alice);
    expect(res.status).toBe(200);
    const c = res.body.workspaces[0];
    const monthStart = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1);
    const expected = (Date.parse(res.body.countedUntil) - Math.max(monthStart, Date.parse(res.body.countedUntil) - 3_600_000)) / 1000;
    expect(Math.abs(c.runningSeconds - expected)).toBeLessThan(5);
    expect(res.body.from).toBe(new Date(monthStart).toISOString());
    // A future `to` counts up to now.
    const future = await call(getUsage, `/v1/usage?workspace=${ws.c}&from=${new Date(Date.now() - 30 * 60_000).toISOString()}&to=${new Date(Date.now() + 86_400_000).toISOString()}`, alice);
    expect(Math.abs(future.body.workspaces[0].runningSeconds - 30 * 60)).toBeLessThan(5);
  });

  it("keeps a non-admin to their own: user= another is 403, another's workspace 404; admins see anyone's", async () => {
    const mine = await call(getUsage, `/v1/usage?from=${at(-60)}&to=${at(480)}`, bob);
    expect(mine.body.workspaces.map((w: { workspaceId: string }) => w.workspaceId)).toEqual([ws.b]);
    near(mine.body.workspaces[0].runningSeconds, 3600);
    near(mine.body.workspaces[0].jobSeconds, 40 * 60);
    expect((await call(getUsage, `/v1/usage?user=bob`, bob)).status).toBe(200);
    expect((await call(getUsage, `/v1/usage?user=${bobId}`, bob)).status).toBe(200);
    const other = await call(getUsage, `/v1/usage?user=alice`, bob);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');
    for (const ref of [ws.a, 'c', 'no-such']) expect((await call(getUsage, `/v1/usage?workspace=${ref}`, bob)).status).toBe(404);

    const all = await call(getUsage, `/v1/usage?from=${at(-60)}&to=${at(480)}`);
    expect(all.body.workspaces.map((w: { workspaceId: string }) => w.workspaceId).sort()).toEqual([ws.a, ws.b].sort());
    near(all.body.totals.runningSeconds, (97 + 91 + 97 + 60) * 60);
    const bobs = await call(getUsage, `/v1/usage?user=bob&from=${at(-60)}&to=${at(480)}`);
    expect(bobs.body.workspaces.map((w: { workspaceId: string }) => w.workspaceId)).toEqual([ws.b]);
    const nobody = await call(getUsage, `/v1/usage?user=nobody`);
    expect(nobody.status).toBe(422);
    expect(nobody.body.error).toMatchObject({ code: 'unknown_user', details: { field: 'user' } });
  });

  it('answers 400 naming the field for bad input', async () => {
    for (const [query, field] of [
      ['from=yesterday', 'from'],
      ['to=2026-13-01T00:00:00Z', 'to'],
      [`from=${at(10)}&to=${at(5)}`, 'to'],
      [`from=${at(10)}&to=${at(10)}`, 'to'],
    ] as const) {
      const res = await call(getUsage, `/v1/usage?${query}`, alice);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details?.field, query).toBe(field);
    }
    // An unknown parameter is refused (the query is strict), naming it.
    const unknown = await call(getUsage, '/v1/usage?colour=red', alice);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('colour');
  });

  it('gives admins the overview: live workspaces by status, top users and cost this month; others 403', async () => {
    expect((await call(getUsageOverview, '/v1/usage/overview', alice)).status).toBe(403);
    const res = await call(getUsageOverview, '/v1/usage/overview');
    expect(res.status).toBe(200);
    // b: stopped; c: running; a is deleted (not live).
    expect(res.body.workspacesByStatus).toMatchObject({ running: 1, stopped: 1, deleted: 0, pending: 0 });
    const top = res.body.topUsers[0];
    expect(top).toMatchObject({ ownerId: aliceId, ownerName: 'alice', workspaces: 1 });
    const monthStart = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1);
    const expected = (Date.parse(res.body.month.to) - Math.max(monthStart, Date.parse(res.body.month.to) - 3_600_000)) / 1000;
    expect(Math.abs(top.runningSeconds - expected)).toBeLessThan(5);
    expect(res.body.costThisMonth).toBeCloseTo((top.runningSeconds / 3600) * 1.5, 2);
    expect(res.body.runningSecondsThisMonth).toBe(top.runningSeconds);
  });
});
