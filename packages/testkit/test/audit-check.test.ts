import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, auditExpectationOf, auditGaps, claimRequests, openWebSocket, TestSystem } from '../src/index.ts';

/**
 * The suite-wide audit check (issue 11 must-hold: "the audit table has a row for every mutating
 * and every denied request of the suite"): what it asks of each answer, that it passes on the real
 * API's rows, and that it fails, naming the request and the test line, when a row is missing or
 * doubled, including through TestSystem.stop().
 */
describe('the audit check of TestSystem.stop()', () => {
  let system: TestSystem;
  let sql: postgres.Sql;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'audit_check', workers: 0 });
    sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  const origins = () => new Set(system.apiUrls.map((u) => new URL(u).origin));
  /** Audit rows are append-only; only the retention job may delete, and so may this test, the same way. */
  const deleteRows = (requestId: string) =>
    sql.begin(async (tx) => {
      await tx`select set_config('vmo.audit_retention', 'on', true)`;
      await tx`delete from audit_events where request_id = ${requestId}`;
    });

  it('asks one row of every mutating request and every 401/403/429, maybe one of a 404 read, nothing of other reads or non-/v1 paths', () => {
    const rest = (method: string, status: number, path = '/v1/jobs', errorCode?: string) => auditExpectationOf({ method, path, status, kind: 'rest', ...(errorCode ? { errorCode } : {}) });
    expect(rest('POST', 201)).toEqual({ need: 'required', results: ['allowed'] });
    expect(rest('DELETE', 400)).toEqual({ need: 'required', results: ['failed'] });
    expect(rest('PATCH', 403)).toEqual({ need: 'required', results: ['denied'] });
    expect(rest('POST', 404)).toEqual({ need: 'required', results: ['denied', 'failed'] });
    expect(rest('POST', 500)).toEqual({ need: 'required', results: ['failed'] });
    expect(rest('POST', 503, '/v1/jobs', 'unavailable')).toEqual({ need: 'optional', results: ['failed'] });
    expect(rest('GET', 401)).toEqual({ need: 'required', results: ['denied'] });
    expect(rest('GET', 429)).toEqual({ need: 'required', results: ['denied'] });
    expect(rest('POST', 429, '/v1/jobs', 'too_many_connections')).toBeUndefined();
    expect(rest('GET', 404)).toEqual({ need: 'optional', results: ['denied'] });
    expect(rest('GET', 200)).toBeUndefined();
    expect(rest('GET', 400)).toBeUndefined();
    expect(rest('POST', 200, '/health')).toBeUndefined();
    expect(auditExpectationOf({ method: 'GET', path: '/v1/jobs/x/stream', status: 401, kind: 'upgrade' })).toEqual({ need: 'required', results: ['denied'] });
    expect(auditExpectationOf({ method: 'GET', path: '/v1/jobs/x/stream', status: 400, kind: 'upgrade' })).toBeUndefined();
  });

  it('passes on what the API recorded, and names a request whose row is gone, with the test line that sent it', async () => {
    const accepted = await system.client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } });
    expect(accepted.status).toBe(201);
    const bad = await system.client.request('POST', '/v1/jobs', { command: 42 });
    expect(bad.status).toBe(400);
    expect((await new ApiClient(system.apiUrls[0]!, 'vmo_usr_not-a-token').request('GET', '/v1/jobs')).status).toBe(401);
    expect((await system.client.request('GET', '/v1/jobs')).status).toBe(200);
    expect((await system.client.request('GET', '/health')).status).toBe(200);
    const refused = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${accepted.body.id}/stream`, { token: 'vmo_usr_not-a-token' });
    expect(refused).toMatchObject({ kind: 'refused', status: 401 });

    const requests = claimRequests(origins());
    expect(requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /v1/jobs 201',
      'POST /v1/jobs 400',
      'GET /v1/jobs 401',
      'GET /v1/jobs 200',
      'GET /health 200',
      `GET /v1/jobs/${accepted.body.id}/stream 401`,
    ]);
    // Each one carried an id of its own, which the server echoed.
    expect(new Set(requests.map((r) => r.requestId)).size).toBe(6);
    expect(accepted.headers.get('x-request-id')).toBe(requests[0]!.requestId);
    expect(await auditGaps(system.databaseUrl, requests)).toEqual([]);

    await deleteRows(requests[0]!.requestId);
    await deleteRows(requests[5]!.requestId);
    const gaps = await auditGaps(system.databaseUrl, requests, 500);
    expect(gaps).toHaveLength(2);
    expect(gaps[0]).toMatch(new RegExp(`^POST /v1/jobs → 201 \\[${requests[0]!.requestId}\\]: wants one allowed row, found none \\(.*audit-check\\.test\\.ts:\\d+`));
    expect(gaps[1]).toMatch(/^upgrade GET \/v1\/jobs\/.+\/stream → 401 .*wants one denied row, found none/);
  });

  it('refuses a second row for one request', async () => {
    const res = await system.client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } });
    const requests = claimRequests(origins());
    await sql`insert into audit_events (actor_kind, action, request_id, result, status)
              select actor_kind, action, request_id, result, status from audit_events where request_id = ${res.headers.get('x-request-id')}`;
    expect(await auditGaps(system.databaseUrl, requests, 500)).toEqual([expect.stringMatching(/^POST \/v1\/jobs → 201 .*: 1 row\(s\) more than its request\(s\): jobs\.submit allowed 201/)]);
  });

  it('stop() fails the file on a gap, listing the request, and still stops everything', async () => {
    const res = await system.client.request('DELETE', '/v1/agents/no-such-agent');
    expect(res.status).toBe(404);
    await deleteRows(res.headers.get('x-request-id')!);
    await sql.end({ timeout: 5 });
    system.auditRereadMs = 500;
    await expect(system.stop()).rejects.toThrow(/audit check \(audit_check\): 1 of 1 request\(s\) without their audit row[^]*DELETE \/v1\/agents\/no-such-agent → 404 .*wants one denied or failed row, found none/);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(system.apis.filter((p) => alive(p.pid))).toEqual([]);
    expect((await postgres(system.databaseUrl.replace(/\/[^/]+$/, '/postgres'), { max: 1 })`select 1 from pg_database where datname = ${new URL(system.databaseUrl).pathname.slice(1)}`.then((r) => r.length))).toBe(0);
  });

  it('an opt-out needs its reason', async () => {
    await expect(TestSystem.start({ label: 'audit_check_skip', skipAuditCheck: { reason: ' ' } })).rejects.toThrow(/skipAuditCheck needs a reason/);
  });
});
