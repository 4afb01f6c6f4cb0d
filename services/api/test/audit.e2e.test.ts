/**
 * The audit trail on a real system (issue 11 §Audit, and the must-hold "the audit table has a row
 * for every mutating and every denied request"): a varied sequence of mutating and denied
 * requests, REST and WebSocket, each with its own X-Request-Id, and exactly one row for each with
 * the right actor, action, resource, targets, source, result and status; allowed reads leave no
 * row; no row holds a token or an env value. Then GET /v1/audit: filters, paging, bad input, and
 * its refusal to anyone but an admin (itself audited).
 */
import { request as httpRequest } from 'node:http';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_SECRET, openWebSocket, TestSystem } from '@vmo/testkit';

let system: TestSystem;
let sql: postgres.Sql;

beforeAll(async () => {
  // The test process connects from 127.0.0.1, the trusted proxy here; 127.0.0.2 is any other client.
  system = await TestSystem.start({ label: 'audit', workers: 0, env: { VMO_TRUSTED_PROXIES: '127.0.0.1/32', VMO_AUTH_FAIL_RATE: '12/60s' } });
  sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await system?.stop();
});

interface Row {
  actor_kind: string;
  actor_id: string | null;
  actor_name: string | null;
  token_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  targets: string[] | null;
  source_ip: string | null;
  request_id: string | null;
  result: string;
  status: number | null;
  detail: Record<string, unknown> | null;
}

const rowsFor = (requestId: string) => sql<Row[]>`select * from audit_events where request_id = ${requestId}`;

/** A request with its own id; `token: null` sends none. From 127.0.0.1 unless `from` says otherwise. */
function call(id: string, method: string, path: string, body?: unknown, token: string | null = system.token, opts: { headers?: Record<string, string>; from?: string } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {
    'X-Request-Id': id,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
    ...opts.headers,
  };
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = httpRequest(`${system.apiUrls[0]}${path}`, { method, headers, localAddress: opts.from ?? '127.0.0.1' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const admin = { actor_kind: 'bootstrap', actor_id: null, actor_name: 'admin (VMO_ADMIN_TOKEN)', source_ip: '127.0.0.1' };
const anonymous = { actor_kind: 'anonymous', actor_id: null, actor_name: null, token_id: null, source_ip: '127.0.0.1' };

describe('every mutating and every denied request has exactly one row', () => {
  /** request id → what its row must hold. */
  const expected = new Map<string, Partial<Row>>();
  /** Request ids that must have no row. */
  const unrecorded: string[] = [];
  let agentToken = '';
  let adminTokenId = '';
  /** Tokens answered during the sequence: none may be in a row. */
  const tokensToHide: string[] = [];

  it('performs a varied sequence of requests', async () => {
    const [adminToken] = await sql<{ id: string }[]>`select id from api_tokens where name = 'admin (VMO_ADMIN_TOKEN)'`;
    adminTokenId = adminToken!.id;

    const registered = await call('reg-1', 'POST', '/v1/agents', { name: 'audit-a1', labels: { team: 'a' } });
    expect(registered.status).toBe(201);
    agentToken = registered.body.token;
    const agentId = registered.body.id as string;
    expected.set('reg-1', { ...admin, token_id: adminTokenId, action: 'agents.register', resource_type: 'agents', resource_id: agentId, targets: ['audit-a1'], result: 'allowed', status: 201, detail: null });

    expect((await call('upd-1', 'PATCH', '/v1/agents/audit-a1', { labels: { team: 'b' } })).status).toBe(200);
    // Named by name in the path: stored by its id, the name as typed beside it.
    expected.set('upd-1', { ...admin, action: 'agents.update', resource_type: 'agents', resource_id: agentId, targets: ['audit-a1'], result: 'allowed', status: 200, detail: { ref: 'audit-a1' } });

    const job = await call('sub-1', 'POST', '/v1/jobs', { command: 'true', target: { type: 'agent', agent: 'audit-a1' }, env: { NOT_IN_AUDIT: CANARY_SECRET } });
    expect(job.status).toBe(201);
    expected.set('sub-1', { ...admin, action: 'jobs.submit', resource_type: 'jobs', resource_id: job.body.id, targets: ['audit-a1'], result: 'allowed', status: 201 });

    const canceled = await call('can-1', 'POST', `/v1/jobs/${job.body.id}/cancel`, {});
    expect(canceled.status).toBe(202);
    expected.set('can-1', { ...admin, action: 'jobs.cancel', resource_type: 'jobs', resource_id: job.body.id, targets: ['audit-a1'], result: 'allowed', status: 202 });

    expect((await call('bad-1', 'POST', '/v1/jobs', { command: 'true', timeoutMs: -1 })).status).toBe(400);
    expected.set('bad-1', { ...admin, action: 'jobs.submit', resource_type: 'jobs', resource_id: null, targets: null, result: 'failed', status: 400, detail: { code: 'validation_failed', field: 'timeoutMs' } });

    const run = await call('run-1', 'POST', '/v1/runs', { command: 'true', targets: { agents: ['audit-a1'] } });
    expect(run.status).toBe(201);
    expected.set('run-1', { ...admin, action: 'runs.submit', resource_type: 'runs', resource_id: run.body.id, targets: ['audit-a1'], result: 'allowed', status: 201, detail: { targetCount: 1 } });
    const runCanceled = await call('run-2', 'POST', `/v1/runs/${run.body.id}/cancel`, {});
    expect(runCanceled.status).toBeLessThan(300);
    expected.set('run-2', { ...admin, action: 'runs.cancel', resource_type: 'runs', resource_id: run.body.id, result: 'allowed', status: runCanceled.status });

    const imported = await call('imp-1', 'POST', '/v1/hosts/import', { config: 'Host audit-db1\n  HostName 10.0.0.1\n  User ops\nHost audit-db2\n  HostName 10.0.0.2\n  User ops\n' });
    expect(imported.status).toBe(200);
    expected.set('imp-1', { ...admin, action: 'hosts.import', resource_type: 'hosts', resource_id: null, targets: ['audit-db1@default', 'audit-db2@default'], result: 'allowed', status: 200, detail: { created: 2, updated: 0, unchanged: 0, skipped: 0 } });

    const hostId = (ref: string) => (imported.body.created as { id: string; ref: string }[]).find((h) => h.ref === ref)!.id;
    const [db1, db2] = [hostId('audit-db1@default'), hostId('audit-db2@default')];
    expect((await call('hdel-1', 'DELETE', '/v1/hosts/audit-db2@default')).status).toBe(204);
    expected.set('hdel-1', { ...admin, action: 'hosts.delete', resource_type: 'hosts', resource_id: db2, targets: null, result: 'allowed', status: 204, detail: { ref: 'audit-db2@default' } });

    expect((await call('rev-1', 'DELETE', '/v1/agents/audit-a1')).status).toBe(204);
    // The agent is resolved before the DELETE runs: the row has its id though it answered none.
    expected.set('rev-1', { ...admin, action: 'agents.revoke', resource_type: 'agents', resource_id: agentId, result: 'allowed', status: 204, detail: { ref: 'audit-a1' } });

    expect((await call('nf-1', 'DELETE', '/v1/agents/no-such-agent')).status).toBe(404);
    expected.set('nf-1', { ...admin, action: 'agents.revoke', resource_id: 'no-such-agent', result: 'failed', status: 404, detail: { code: 'not_found' } });

    expect((await call('unk-1', 'POST', '/v1/no-such-route', {})).status).toBe(404);
    expected.set('unk-1', { ...admin, action: 'unknown', result: 'failed', status: 404, detail: { code: 'not_found', method: 'POST', path: '/v1/no-such-route' } });

    // Denied: no token, a token that is no token, a token of the wrong kind (an agent's on REST).
    expect((await call('den-1', 'POST', '/v1/jobs', { command: 'true' }, null)).status).toBe(401);
    expected.set('den-1', { ...anonymous, action: 'auth.denied', resource_type: 'jobs', result: 'denied', status: 401, detail: expect.objectContaining({ code: 'unauthorized', attempted: 'jobs.submit' }) });
    expect((await call('den-2', 'GET', '/v1/jobs', undefined, 'vmo_adm_not-a-real-token')).status).toBe(401);
    expected.set('den-2', { ...anonymous, action: 'auth.denied', resource_type: 'jobs', result: 'denied', status: 401, detail: expect.objectContaining({ code: 'unauthorized', attempted: 'jobs.list' }) });
    expect((await call('den-3', 'GET', '/v1/agents', undefined, agentToken)).status).toBe(403);
    expected.set('den-3', { ...anonymous, action: 'agents.list', resource_type: 'agents', result: 'denied', status: 403, detail: expect.objectContaining({ code: 'forbidden' }) });
    expect((await call('den-4', 'DELETE', '/v1/hosts/audit-db1@default', undefined, agentToken)).status).toBe(403);
    expected.set('den-4', { ...anonymous, action: 'hosts.delete', resource_id: db1, result: 'denied', status: 403, detail: expect.objectContaining({ ref: 'audit-db1@default' }) });

    // Refused WebSocket upgrades are denied requests too: a stream with a bad token, the agent
    // endpoint with a revoked agent's token and with a user's token.
    const url = system.apiUrls[0]!;
    const stream = await openWebSocket(`${url}/v1/jobs/${job.body.id}/stream`, { token: 'vmo_adm_not-a-real-token', headers: { 'X-Request-Id': 'ws-1' } });
    expect(stream).toMatchObject({ kind: 'refused', status: 401 });
    expected.set('ws-1', { ...anonymous, action: 'auth.denied', resource_type: 'jobs', resource_id: job.body.id, result: 'denied', status: 401, detail: expect.objectContaining({ attempted: 'jobs.stream' }) });
    const revoked = await openWebSocket(`${url}/v1/agent/connect`, { token: agentToken, headers: { 'X-Request-Id': 'ws-2' } });
    expect(revoked).toMatchObject({ kind: 'refused', status: 401 });
    expected.set('ws-2', { ...anonymous, action: 'auth.denied', resource_type: 'agents', result: 'denied', status: 401, detail: expect.objectContaining({ attempted: 'agents.connect' }) });
    const wrongKind = await openWebSocket(`${url}/v1/agent/connect`, { token: system.token, headers: { 'X-Request-Id': 'ws-3' } });
    expect(wrongKind).toMatchObject({ kind: 'refused', status: 403 });
    expected.set('ws-3', { ...anonymous, action: 'agents.connect', resource_type: 'agents', result: 'denied', status: 403 });

    // Users, tokens, policies, enrolment: the access routes are audited like the rest.
    const viewer = await call('usr-1', 'POST', '/v1/users', { name: 'audit-viewer', role: 'viewer' });
    expect(viewer.status).toBe(201);
    expected.set('usr-1', { ...admin, action: 'users.create', resource_type: 'users', resource_id: viewer.body.id, result: 'allowed', status: 201 });
    expect((await call('usr-2', 'POST', '/v1/users', { name: 'audit-op', role: 'operator' })).status).toBe(201);
    expected.set('usr-2', { ...admin, action: 'users.create', result: 'allowed', status: 201 });
    const viewerToken = await call('tok-1', 'POST', '/v1/tokens', { name: 'v', user: 'audit-viewer' });
    expect(viewerToken.status).toBe(201);
    expected.set('tok-1', { ...admin, action: 'tokens.create', resource_type: 'tokens', resource_id: viewerToken.body.id, result: 'allowed', status: 201 });
    const opToken = await call('tok-2', 'POST', '/v1/tokens', { name: 'o', user: 'audit-op' });
    expect(opToken.status).toBe(201);
    expected.set('tok-2', { ...admin, action: 'tokens.create', resource_id: opToken.body.id, result: 'allowed', status: 201 });
    const spareToken = await call('tok-3', 'POST', '/v1/tokens', { name: 'spare', user: 'audit-op' });
    expected.set('tok-3', { ...admin, action: 'tokens.create', resource_id: spareToken.body.id, result: 'allowed', status: 201 });
    expect((await call('tok-4', 'DELETE', `/v1/tokens/${spareToken.body.id}`)).status).toBe(204);
    expected.set('tok-4', { ...admin, action: 'tokens.revoke', resource_type: 'tokens', resource_id: spareToken.body.id, result: 'allowed', status: 204 });
    expect((await call('tok-5', 'GET', '/v1/jobs', undefined, spareToken.body.token)).status).toBe(401);
    expected.set('tok-5', { ...anonymous, action: 'auth.denied', result: 'denied', status: 401, detail: expect.objectContaining({ attempted: 'jobs.list' }) });
    tokensToHide.push(viewerToken.body.token, opToken.body.token, spareToken.body.token);

    const policy = await call('pol-1', 'POST', '/v1/policies', { name: 'audit-team-b', subjects: { roles: ['operator'] }, actions: ['run'], targets: 'team=b' });
    expect(policy.status).toBe(201);
    expected.set('pol-1', { ...admin, action: 'policies.create', resource_type: 'policies', resource_id: policy.body.id, result: 'allowed', status: 201 });
    expect((await call('pol-2', 'DELETE', `/v1/policies/${policy.body.id}`)).status).toBe(204);
    expected.set('pol-2', { ...admin, action: 'policies.delete', resource_id: policy.body.id, result: 'allowed', status: 204 });

    const enrolment = await call('enr-1', 'POST', '/v1/enrolment-tokens', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(enrolment.status).toBe(201);
    expected.set('enr-1', { ...admin, action: 'enrolment_tokens.create', resource_type: 'enrolment_tokens', resource_id: enrolment.body.id, result: 'allowed', status: 201 });
    const enrolled = await call('enr-2', 'POST', '/v1/agent/enrol', { name: 'audit-enrolled' }, enrolment.body.token);
    expect(enrolled.status).toBe(201);
    expected.set('enr-2', { ...anonymous, action: 'agents.enrol', resource_type: 'agents', resource_id: enrolled.body.agentId, targets: ['audit-enrolled'], result: 'allowed', status: 201 });
    expect((await call('enr-3', 'POST', '/v1/agent/enrol', { name: 'audit-nobody' }, 'vmo_enr_not-a-real-token')).status).toBe(401);
    expected.set('enr-3', { ...anonymous, action: 'auth.denied', resource_type: 'agents', result: 'denied', status: 401, detail: expect.objectContaining({ attempted: 'agents.enrol' }) });
    tokensToHide.push(enrolment.body.token, enrolled.body.token);

    // Refusals of signed-in users name them: a viewer may not run, nor read the audit trail; an
    // operator may not either, and may not see the admin's job (a 404 that is a policy's denial).
    const asViewer = { actor_kind: 'user', actor_id: viewer.body.id, actor_name: 'audit-viewer', token_id: viewerToken.body.id, source_ip: '127.0.0.1' };
    expect((await call('vw-1', 'POST', '/v1/jobs', { command: 'true' }, viewerToken.body.token)).status).toBe(403);
    expected.set('vw-1', { ...asViewer, action: 'jobs.submit', result: 'denied', status: 403, detail: expect.objectContaining({ code: 'forbidden' }) });
    expect((await call('vw-2', 'GET', '/v1/audit', undefined, viewerToken.body.token)).status).toBe(403);
    expected.set('vw-2', { ...asViewer, action: 'audit.list', resource_type: 'audit', result: 'denied', status: 403, detail: expect.objectContaining({ code: 'forbidden', message: expect.stringContaining('audit:read') }) });
    expect((await call('op-1', 'GET', '/v1/audit', undefined, opToken.body.token)).status).toBe(403);
    expected.set('op-1', { actor_kind: 'user', actor_name: 'audit-op', token_id: opToken.body.id, action: 'audit.list', result: 'denied', status: 403 });
    expect((await call('op-2', 'GET', `/v1/jobs/${job.body.id}`, undefined, opToken.body.token)).status).toBe(404);
    expected.set('op-2', { actor_kind: 'user', actor_name: 'audit-op', action: 'jobs.get', resource_type: 'jobs', resource_id: job.body.id, result: 'denied', status: 404, detail: { code: 'not_found' } });

    // The same 404 on a stream upgrade, job or run, names the operator too.
    const hiddenJobStream = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${job.body.id}/stream`, { token: opToken.body.token, headers: { 'X-Request-Id': 'op-3' } });
    expect(hiddenJobStream).toMatchObject({ kind: 'refused', status: 404 });
    expected.set('op-3', { actor_kind: 'user', actor_name: 'audit-op', token_id: opToken.body.id, action: 'jobs.stream', resource_id: job.body.id, result: 'denied', status: 404 });
    const hiddenRunStream = await openWebSocket(`${system.apiUrls[0]}/v1/runs/${run.body.id}/stream`, { token: opToken.body.token, headers: { 'X-Request-Id': 'op-4' } });
    expect(hiddenRunStream).toMatchObject({ kind: 'refused', status: 404 });
    expected.set('op-4', { actor_kind: 'user', actor_name: 'audit-op', token_id: opToken.body.id, action: 'runs.stream', resource_id: run.body.id, result: 'denied', status: 404 });

    // Behind the trusted proxy: its user header is the actor, the client it forwarded is the
    // source. From any other address the same headers are a spoof: 401, and the peer is the source.
    expect((await call('px-1', 'POST', '/v1/jobs', { command: 'true' }, null, { headers: { 'X-VM-User': 'audit-viewer', 'X-Forwarded-For': '203.0.113.7' } })).status).toBe(403);
    expected.set('px-1', { actor_kind: 'proxy', actor_id: viewer.body.id, actor_name: 'audit-viewer', token_id: null, source_ip: '203.0.113.7', action: 'jobs.submit', result: 'denied', status: 403 });
    expect((await call('px-2', 'POST', '/v1/jobs', { command: 'true' }, null, { headers: { 'X-VM-User': 'audit-viewer', 'X-Forwarded-For': '203.0.113.7' }, from: '127.0.0.2' })).status).toBe(401);
    expected.set('px-2', { ...anonymous, source_ip: '127.0.0.2', action: 'auth.denied', result: 'denied', status: 401 });

    // Allowed reads and a real 404 on a read are not recorded.
    expect((await call('read-1', 'GET', '/v1/jobs')).status).toBe(200);
    expect((await call('read-2', 'GET', `/v1/jobs/${job.body.id}`)).status).toBe(200);
    expect((await call('read-3', 'GET', '/v1/agents/no-such-agent')).status).toBe(404);
    unrecorded.push('read-1', 'read-2', 'read-3');
  });

  it('one row per request, with the right fields, stored before the answer was sent', async () => {
    // No waiting: each row was written before its request was answered.
    for (const [id, fields] of expected) {
      const rows = await rowsFor(id);
      expect(rows, id).toHaveLength(1);
      expect(rows[0], id).toMatchObject({ request_id: id, ...fields });
    }
    for (const id of unrecorded) expect(await rowsFor(id), id).toHaveLength(0);
  });

  it('every row of the suite is one of those requests: nothing more was recorded', async () => {
    const all = await sql<{ request_id: string }[]>`select request_id from audit_events order by id`;
    expect(all.map((r) => r.request_id).sort()).toEqual([...expected.keys()].sort());
  });

  it('no row holds a token or an env value', async () => {
    const [{ text } = { text: '' }] = await sql<{ text: string }[]>`select coalesce(string_agg(to_jsonb(a)::text, ' '), '') as text from audit_events a`;
    expect(text).not.toContain(CANARY_SECRET);
    for (const token of [system.token, agentToken, ...tokensToHide]) expect(text).not.toContain(token);
  });
});

describe('GET /v1/audit', () => {
  const list = async (query: string) => call(`list-${Math.random()}`, 'GET', `/v1/audit${query}`);

  it('newest first, the row as the API shows it', async () => {
    const res = await list('?action=agents.register');
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({
      actor: { kind: 'bootstrap', id: null, name: 'admin (VMO_ADMIN_TOKEN)', tokenId: expect.stringMatching(/^tok_/) },
      action: 'agents.register',
      resource: { type: 'agents', id: expect.stringMatching(/^agt_/) },
      targets: ['audit-a1'],
      sourceIp: '127.0.0.1',
      requestId: 'reg-1',
      result: 'allowed',
      status: 201,
    });
    const all = (await list('?limit=500')).body.items as { id: string; at: string }[];
    const ids = all.map((r) => BigInt(r.id));
    expect([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(ids);
  });

  it('filters: actor, action and action.*, resource type and id, result, since and until', async () => {
    const ids = async (query: string) => {
      const res = await list(query);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body.items as { requestId: string }[]).map((r) => r.requestId).sort();
    };
    expect(await ids('?actor=anonymous&action=agents.*&limit=500')).toEqual(['den-3', 'enr-2', 'ws-3']);
    expect(await ids('?action=auth.denied&resource=jobs')).toEqual(['den-1', 'den-2', 'px-2', 'tok-5', 'ws-1']);
    expect(await ids('?action=agents.*&result=allowed')).toEqual(['enr-2', 'reg-1', 'rev-1', 'upd-1']);
    expect(await ids('?resource=hosts')).toEqual(['den-4', 'hdel-1', 'imp-1']);
    // A resource by the name a path gave it or by its id: the same rows (the import named it among its targets).
    expect(await ids('?resource=hosts/audit-db2@default')).toEqual(['hdel-1', 'imp-1']);
    const [agent] = await sql<{ id: string }[]>`select id from agents where name = 'audit-a1'`;
    expect(await ids('?resource=agents/audit-a1')).toEqual(['reg-1', 'rev-1', 'upd-1']);
    expect(await ids(`?resource=agents/${agent!.id}`)).toEqual(['reg-1', 'rev-1', 'upd-1']);
    expect(await ids('?result=failed')).toEqual(['bad-1', 'nf-1', 'unk-1']);
    const [adminToken] = await sql<{ id: string }[]>`select id from api_tokens where name = 'admin (VMO_ADMIN_TOKEN)'`;
    expect(await ids(`?actor=${adminToken!.id}&action=jobs.*`)).toEqual(['bad-1', 'can-1', 'sub-1']);
    expect(await ids(`?actor=${encodeURIComponent('admin (VMO_ADMIN_TOKEN)')}&action=jobs.submit`)).toEqual(['bad-1', 'sub-1']);
    expect(await ids('?actor=audit-viewer')).toEqual(['px-1', 'vw-1', 'vw-2']);
    const [viewer] = await sql<{ id: string }[]>`select id from users where name = 'audit-viewer'`;
    expect(await ids(`?actor=${viewer!.id}&result=denied&action=jobs.submit`)).toEqual(['px-1', 'vw-1']);
    const [imported] = await sql<{ at: Date }[]>`select at from audit_events where request_id = 'imp-1'`;
    const at = imported!.at;
    const since = await ids(`?since=${at.toISOString()}&limit=500`);
    expect(since).toContain('imp-1');
    expect(since).not.toContain('reg-1');
    const until = await ids(`?until=${at.toISOString()}&limit=500`);
    expect(until).toContain('reg-1');
    expect(until).not.toContain('ws-3');
  });

  it('pages with nextCursor: every row once, in order, whatever is appended meanwhile', async () => {
    const whole = ((await list('?limit=500')).body.items as { id: string }[]).map((r) => r.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const res = await list(`?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      // Rows appended while paging (each GET here is not one: allowed reads are not recorded;
      // a denied request is) are newer than the cursor and never show up on a later page.
      await call(`while-paging-${i}`, 'GET', '/v1/jobs', undefined, null);
      paged.push(...(res.body.items as { id: string }[]).map((r) => r.id));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    expect(paged).toEqual(whole);
  });

  it('bad input is a 400 naming the parameter', async () => {
    for (const [query, field] of [
      ['?cursor=nonsense', 'cursor'],
      ['?cursor=2026-02-31T00:00:00.000000Z~5', 'cursor'],
      ['?action=DROP TABLE', 'action'],
      ['?result=maybe', 'result'],
      ['?since=yesterday', 'since'],
      ['?resource=jobs/a/b', 'resource'],
      ['?limit=0', 'limit'],
      ['?unknown=1', 'unknown'],
    ] as const) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(JSON.stringify(res.body.error), query).toContain(field);
    }
  });
});

describe('rows outside the request sequence above', () => {
  it('a proxy user created on first sight, or whose email the proxy changed, has a users.create / users.update row by that user, even on a GET', async () => {
    const first = await call('pxu-1', 'GET', '/v1/me', undefined, null, { headers: { 'X-VM-User': 'audit-newcomer', 'X-Forwarded-For': '203.0.113.9' } });
    expect(first.status).toBe(200);
    const asNewcomer = { actor_kind: 'proxy', actor_id: first.body.id, actor_name: 'audit-newcomer', token_id: null, source_ip: '203.0.113.9' };
    expect(await rowsFor('pxu-1')).toEqual([expect.objectContaining({ ...asNewcomer, action: 'users.create', resource_type: 'users', resource_id: first.body.id, result: 'allowed', detail: { via: 'proxy', role: 'viewer' } })]);
    // Seen again with nothing new: no row (an allowed read).
    expect((await call('pxu-2', 'GET', '/v1/me', undefined, null, { headers: { 'X-VM-User': 'audit-newcomer' } })).status).toBe(200);
    expect(await rowsFor('pxu-2')).toHaveLength(0);
    // A new email from the proxy is an update of the user; on a mutating request, its own row too.
    expect((await call('pxu-3', 'POST', '/v1/jobs', { command: 'true' }, null, { headers: { 'X-VM-User': 'audit-newcomer', 'X-VM-Email': 'newcomer@example.com' } })).status).toBe(403);
    const rows = await rowsFor('pxu-3');
    expect(rows.map((r) => r.action).sort()).toEqual(['jobs.submit', 'users.update']);
    expect(rows.find((r) => r.action === 'users.update')).toMatchObject({ ...asNewcomer, source_ip: '127.0.0.1', resource_id: first.body.id, result: 'allowed', detail: { via: 'proxy', changed: ['email'] } });
    expect(JSON.stringify(rows)).not.toContain('newcomer@example.com');
  });

  it('past the failed-authentication limit, the 429s are denied rows, on GETs and on stream upgrades', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await call(`brute-${i}`, 'GET', '/v1/jobs', undefined, `vmo_usr_guess-${i}`, { from: '127.0.0.3' })).status);
    expect(statuses).toContain(429);
    const limited = statuses.flatMap((s, i) => (s === 429 ? [`brute-${i}`] : []));
    for (const id of limited) {
      expect(await rowsFor(id), id).toEqual([
        expect.objectContaining({ ...anonymous, source_ip: '127.0.0.3', action: 'auth.denied', resource_type: 'jobs', result: 'denied', status: 429, detail: expect.objectContaining({ code: 'rate_limited', attempted: 'jobs.list' }) }),
      ]);
    }
    const stream = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/job_00000000000000000000/stream`, { token: 'vmo_usr_guess-ws', localAddress: '127.0.0.3', headers: { 'X-Request-Id': 'brute-ws' } });
    expect(stream).toMatchObject({ kind: 'refused', status: 429 });
    expect(await rowsFor('brute-ws')).toEqual([expect.objectContaining({ source_ip: '127.0.0.3', action: 'auth.denied', result: 'denied', status: 429, detail: expect.objectContaining({ code: 'rate_limited', attempted: 'jobs.stream' }) })]);
  });
});

describe('durability', () => {
  it('a request answered just before the API is killed -9 has its row', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(`kill-${i}`, 'POST', '/v1/agents', { name: `audit-kill-${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
    // Killed the moment the last answer arrived: nothing the process still meant to do happens.
    await system.apis[0]!.kill();
    const rows = await sql<{ request_id: string }[]>`select request_id from audit_events where starts_with(request_id, 'kill-')`;
    expect(rows.map((r) => r.request_id).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `kill-${i}`).sort());
  });
});
