/**
 * Issue 18, scheduled sessions: POST/GET /v1/workspaces/{id}/sessions and DELETE …/sessions/{sid}
 * on the API in process (real Postgres), over workspaces written with SQL (the routes that create
 * them are another file's). Booked (201, Location, the row written), listed soonest first
 * (`upcoming`), canceled (204, again 204, an ended one 409); bad input a 400 naming the field with
 * nothing written; overlapping windows (prepare lead to end) 409 session_overlap, touching ones
 * fine; another user's workspace 404 on every route (admins see all); a deleted workspace takes no
 * booking; scopes. Every answer is checked against its route's contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { cancelWorkspaceSession, createWorkspaceSession, listWorkspaceSessions, type ApiRoute } from '@vmo/shared/api';
import { newId } from '@vmo/shared/ids';
import { createApiToken, createUser, findUser } from '@vmo/shared/users';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Whole minutes ahead of now (well in the future whatever the test takes). */
const ahead = (ms: number) => new Date(Math.ceil((Date.now() + DAY) / MIN) * MIN + ms).toISOString();

describe('the workspace sessions API (in-process)', () => {
  let fixture: InProcessApp;
  let olga: string;
  let pete: string;
  let viewer: string;
  const ws = { olga: newId('wks'), pete: newId('wks'), gone: newId('wks') };

  const call = async (route: ApiRoute, method: string, path: string, body?: unknown, token: string = olga) => {
    const res = await fixture.app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : null;
    const documented = route.responses[res.status];
    expect(documented, `${method} ${path} answered ${res.status}, which its contract does not list: ${text}`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema as z.ZodType | undefined;
    if (schema) expect(schema.safeParse(parsed).success, `${method} ${path} ${res.status}: ${text}`).toBe(true);
    return { status: res.status, body: parsed, location: res.headers.get('location') };
  };
  const book = (workspaceId: string, body: unknown, token?: string) => call(createWorkspaceSession, 'POST', `/v1/workspaces/${workspaceId}/sessions`, body, token);
  const list = (workspaceId: string, query = '', token?: string) => call(listWorkspaceSessions, 'GET', `/v1/workspaces/${workspaceId}/sessions${query}`, undefined, token);
  const cancel = (workspaceId: string, sid: string, token?: string) => call(cancelWorkspaceSession, 'DELETE', `/v1/workspaces/${workspaceId}/sessions/${sid}`, undefined, token);
  const rows = async () => Number((await fixture.cp.database.sql<{ n: number }[]>`select count(*)::int as n from workspace_sessions`)[0]!.n);

  beforeAll(async () => {
    fixture = await startInProcessApp('ws_sessions_api');
    const { cp } = fixture;
    const sql = cp.database.sql;
    for (const [name, role] of [['olga', 'operator'], ['pete', 'operator'], ['vera', 'viewer']] as const) await createUser(cp, { name, role, email: null });
    const o = (await findUser(cp, 'olga'))!;
    const p = (await findUser(cp, 'pete'))!;
    const v = (await findUser(cp, 'vera'))!;
    olga = (await createApiToken(cp, { user: o, name: 'olga', createdBy: 'test' })).token;
    pete = (await createApiToken(cp, { user: p, name: 'pete', createdBy: 'test' })).token;
    viewer = (await createApiToken(cp, { user: v, name: 'vera', createdBy: 'test' })).token;
    const tpl = newId('tpl');
    await sql`insert into templates (id, name) values (${tpl}, 'dev')`;
    await sql`insert into template_versions (template_id, version, provider) values (${tpl}, 1, 'fake')`;
    await sql`
      insert into workspaces (id, name, owner_id, owner_name, template_id, template_version, deleted_at) values
        (${ws.olga}, 'dev', ${o.id}, 'olga', ${tpl}, 1, null),
        (${ws.pete}, 'dev', ${p.id}, 'pete', ${tpl}, 1, null),
        (${ws.gone}, 'old', ${o.id}, 'olga', ${tpl}, 1, clock_timestamp())`;
  }, 60_000);

  afterAll(async () => {
    await fixture?.close();
  });

  it('books a session (201, Location, defaults), lists it, cancels it (204, twice)', async () => {
    const startAt = ahead(0);
    const res = await book(ws.olga, { startAt, durationMs: HOUR });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      workspaceId: ws.olga,
      startAt,
      endAt: new Date(Date.parse(startAt) + HOUR).toISOString(),
      prepareAt: new Date(Date.parse(startAt) - 5 * MIN).toISOString(),
      durationMs: HOUR,
      prepareLeadMs: 5 * MIN,
      status: 'scheduled',
      createdBy: 'olga',
      canceledAt: null,
      startOperationId: null,
      stopOperationId: null,
    });
    expect(res.location).toBe(`/v1/workspaces/${ws.olga}/sessions/${res.body.id}`);
    // By name too (the workspace routes take either).
    const later = await book('dev', { startAt: ahead(3 * HOUR), durationMs: 30 * MIN, prepareLeadMs: 0 });
    expect(later.status, JSON.stringify(later.body)).toBe(201);
    expect(later.body.workspaceId).toBe(ws.olga);

    const listed = await list(ws.olga);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([res.body.id, later.body.id]); // soonest first

    expect((await cancel(ws.olga, res.body.id)).status).toBe(204);
    expect((await cancel(ws.olga, res.body.id)).status).toBe(204); // canceled again: a no-op
    const after = await list(ws.olga);
    expect(after.body.items[0]).toMatchObject({ id: res.body.id, status: 'canceled' });
    expect(after.body.items[0].canceledAt).not.toBeNull();
    expect((await list(ws.olga, '?upcoming=true')).body.items.map((s: { id: string }) => s.id)).toEqual([later.body.id]);

    // An ended one cannot be canceled.
    await fixture.cp.database.sql`update workspace_sessions set status = 'ended' where id = ${later.body.id}`;
    const ended = await cancel(ws.olga, later.body.id);
    expect([ended.status, ended.body.error.code]).toEqual([409, 'invalid_transition']);
    expect((await cancel(ws.olga, 'wse_0123456789abcdefghij')).status).toBe(404);
    expect((await cancel(ws.olga, 'nope')).status).toBe(404);
  });

  it('bad input is a 400 naming the field, and writes nothing', async () => {
    const before = await rows();
    const cases: [unknown, string][] = [
      [{ durationMs: HOUR }, 'startAt'],
      [{ startAt: 'tomorrow', durationMs: HOUR }, 'startAt'],
      [{ startAt: '2030-01-01T09:00:00', durationMs: HOUR }, 'startAt'], // no offset
      [{ startAt: new Date(Date.now() - MIN).toISOString(), durationMs: HOUR }, 'startAt'], // past
      [{ startAt: new Date(Date.now() + 400 * DAY).toISOString(), durationMs: HOUR }, 'startAt'], // over a year ahead
      [{ startAt: ahead(10 * DAY) }, 'durationMs'],
      [{ startAt: ahead(10 * DAY), durationMs: 0 }, 'durationMs'],
      [{ startAt: ahead(10 * DAY), durationMs: -5 }, 'durationMs'],
      [{ startAt: ahead(10 * DAY), durationMs: 1.5 }, 'durationMs'],
      [{ startAt: ahead(10 * DAY), durationMs: 8 * DAY }, 'durationMs'],
      [{ startAt: ahead(10 * DAY), durationMs: '3600000' }, 'durationMs'],
      [{ startAt: ahead(10 * DAY), durationMs: HOUR, prepareLeadMs: -1 }, 'prepareLeadMs'],
      [{ startAt: ahead(10 * DAY), durationMs: HOUR, prepareLeadMs: 2 * DAY }, 'prepareLeadMs'],
      [{ startAt: ahead(10 * DAY), durationMs: HOUR, extra: 1 }, 'body'], // an unknown key: the body, naming it
    ];
    for (const [body, field] of cases) {
      const res = await book(ws.olga, body);
      expect([res.status, res.body.error.code, res.body.error.details?.field], JSON.stringify(body)).toEqual([400, 'validation_failed', field]);
      expect(res.body.error.message.startsWith(field), res.body.error.message).toBe(true);
      if (field === 'body') expect(res.body.error.message).toContain('extra');
    }
    const notJson = await book(ws.olga, '{"startAt":');
    expect([notJson.status, notJson.body.error.code]).toEqual([400, 'invalid_json']);
    expect((await list(ws.olga, '?limit=0')).status).toBe(400);
    expect((await list(ws.olga, '?upcoming=yes')).status).toBe(400);
    expect(await rows()).toBe(before);
  });

  it('overlapping windows (prepare lead to end) are 409 session_overlap; touching ones are fine', async () => {
    const t = Date.parse(ahead(20 * DAY));
    const at = (ms: number) => new Date(t + ms).toISOString();
    const first = await book(ws.olga, { startAt: at(0), durationMs: HOUR, prepareLeadMs: 10 * MIN });
    expect(first.status).toBe(201);
    const before = await rows();
    for (const body of [
      { startAt: at(30 * MIN), durationMs: HOUR, prepareLeadMs: 0 }, // inside
      { startAt: at(HOUR + 5 * MIN), durationMs: HOUR, prepareLeadMs: 10 * MIN }, // its lead begins before the first ends
      { startAt: at(-HOUR), durationMs: 55 * MIN, prepareLeadMs: 0 }, // ends inside the first's lead
    ]) {
      const res = await book(ws.olga, body);
      expect([res.status, res.body.error.code], JSON.stringify(body)).toEqual([409, 'session_overlap']);
      expect(res.body.error.details.sessionId).toBe(first.body.id);
    }
    expect(await rows()).toBe(before);
    expect((await book(ws.olga, { startAt: at(HOUR + 10 * MIN), durationMs: HOUR, prepareLeadMs: 10 * MIN })).status).toBe(201); // lead begins as the first ends
    expect((await book(ws.olga, { startAt: at(-HOUR), durationMs: 50 * MIN, prepareLeadMs: 0 })).status).toBe(201); // ends as the first's lead begins
    // Another workspace's sessions are no obstacle; a canceled session frees its slot.
    expect((await book(ws.pete, { startAt: at(0), durationMs: HOUR }, pete)).status).toBe(201);
    expect((await cancel(ws.olga, first.body.id)).status).toBe(204);
    expect((await book(ws.olga, { startAt: at(0), durationMs: HOUR, prepareLeadMs: 10 * MIN })).status).toBe(201);
  });

  it('two bookings of the same slot at once: one 201, one 409', async () => {
    const body = { startAt: ahead(40 * DAY), durationMs: HOUR };
    const answers = await Promise.all([book(ws.olga, body), book(ws.olga, body), book(ws.olga, body)]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
  });

  it("another user's workspace is 404 on every route (and its body is not judged); admins see every one", async () => {
    const mine = await book(ws.olga, { startAt: ahead(50 * DAY), durationMs: HOUR });
    expect(mine.status).toBe(201);
    for (const res of [
      await book(ws.olga, { startAt: ahead(60 * DAY), durationMs: HOUR }, pete),
      await book(ws.olga, { nonsense: true }, pete),
      await list(ws.olga, '', pete),
      await cancel(ws.olga, mine.body.id, pete),
    ]) {
      expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
    }
    // A session id under another workspace of the caller's is not found either.
    const petes = await list(ws.pete, '', pete);
    expect((await cancel(ws.pete, mine.body.id, pete)).status).toBe(404);
    expect(petes.body.items.length).toBeGreaterThan(0);
    expect((await list(ws.olga, '', fixture.token)).body.items.map((s: { id: string }) => s.id)).toContain(mine.body.id);
    expect((await book(ws.pete, { startAt: ahead(70 * DAY), durationMs: HOUR }, fixture.token)).status).toBe(201);
    expect((await list('wks_0123456789abcdefghij')).status).toBe(404);
  });

  it('a deleted workspace takes no booking; a viewer may list but not book', async () => {
    const gone = await book(ws.gone, { startAt: ahead(0), durationMs: HOUR });
    expect([gone.status, gone.body.error.code]).toEqual([404, 'not_found']);
    await fixture.cp.database.sql`update workspaces set owner_id = (select id from users where name = 'vera') where id = ${ws.gone}`;
    await fixture.cp.database.sql`update workspaces set deleted_at = null where id = ${ws.gone}`;
    expect((await list(ws.gone, '', viewer)).status).toBe(200);
    const refused = await book(ws.gone, { startAt: ahead(0), durationMs: HOUR }, viewer);
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
  });
});
