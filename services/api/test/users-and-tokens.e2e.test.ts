/**
 * Issue 11 §Identity and §Must hold, against real API processes: users, scoped and expiring user
 * tokens, route scopes (a viewer cannot run, an operator can), revocation, expiry, disabling and a
 * role change holding at once on the OTHER API node (nothing is cached), the bootstrap admin, the
 * trusted proxy header (spoofed from an untrusted address: 401; from the trusted one: that user,
 * created on first sight with the default role; REST and stream upgrades alike), and refusals
 * that say nothing about what exists.
 *
 * Node 0 trusts the proxy at 127.0.0.2 only; node 1 trusts no proxy (the default). The ApiClient
 * connects from 127.0.0.1, which neither trusts.
 */
import { request as httpRequest } from 'node:http';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, openWebSocket, TestSystem, waitFor } from '@vmo/testkit';

const PROXY_ADDRESS = '127.0.0.2';
const INVALID = { error: { code: 'unauthorized', message: 'the token is not valid' } };

/** A REST call from a chosen loopback address (the ApiClient always connects from 127.0.0.1). */
function callFrom(baseUrl: string, localAddress: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; body: any }> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, localAddress, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('users, tokens and the trusted proxy (two API nodes)', () => {
  let system: TestSystem;
  let admin: ApiClient; // the bootstrap admin token (VMO_ADMIN_TOKEN), on node 0
  let sql: postgres.Sql;
  let agentId: string;

  /** A client with `token` on API node `node`. */
  const as = (token: string, node = 0) => system.clientFor(node, token);
  /** A user token the bootstrap admin makes for `user`. */
  const tokenFor = async (user: string, extra: Record<string, unknown> = {}) => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}-cli`, user, ...extra });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string; scopes: string[] | null; expiresAt: string | null };
  };
  const createUser = async (name: string, role: string, email?: string) => {
    const res = await admin.request('POST', '/v1/users', { name, role, ...(email ? { email } : {}) });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; name: string };
  };
  const jobCount = async () => Number((await sql`select count(*)::int as n from jobs`)[0]!.n);
  const agentJob = { command: 'echo hi', target: { type: 'agent', agent: 'web-a' } };

  beforeAll(async () => {
    system = await TestSystem.start({
      label: 'users_tokens',
      apis: 1,
      workers: 0,
      // Many refused tokens come from 127.0.0.1 on purpose: the failed-auth limit is not what is tested here.
      env: { VMO_AUTH_FAIL_RATE: 'off', VMO_TRUSTED_PROXIES: `${PROXY_ADDRESS}/32` },
    });
    await system.startApi({ VMO_TRUSTED_PROXIES: '' }); // node 1: the default, no proxy trusted
    admin = system.client;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    // A target operators of team a may run on (policies: issue 11 §Authorization). No agent process: a queued job is enough.
    agentId = (await admin.vmo.agents.register({ name: 'web-a', labels: { team: 'a' } })).id;
    const policy = await admin.request('POST', '/v1/policies', { name: 'team-a', subjects: { roles: ['operator'] }, actions: ['read', 'run', 'cancel'], targets: 'team=a' });
    expect(policy.status, policy.text).toBe(201);
  });
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
  });

  it('the bootstrap admin token keeps working, on every node, and is no user', async () => {
    for (const node of [0, 1]) {
      const me = await as(system.token, node).vmo.users.me();
      expect(me).toMatchObject({ kind: 'bootstrap', id: null, name: 'admin (VMO_ADMIN_TOKEN)', role: 'admin', token: { scopes: null } });
      expect(me.scopes).toContain('users:write');
      expect((await as(system.token, node).request('GET', '/v1/jobs')).status).toBe(200);
    }
    // It belongs to nobody: a token it makes must name its user.
    const res = await admin.request('POST', '/v1/tokens', { name: 'mine' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { field: 'user' } });
  });

  it('admins create, list, read and change users; names are unique (409); bad input is 400 naming the field, nothing created', async () => {
    const alice = await admin.vmo.users.create({ name: 'alice', role: 'operator', email: 'alice@example.com' });
    expect(alice).toMatchObject({ name: 'alice', role: 'operator', email: 'alice@example.com', disabled: false, source: 'local' });
    expect(alice.id).toMatch(/^usr_[0-9a-z]{20}$/);
    const again = await admin.request('POST', '/v1/users', { name: 'alice', role: 'viewer' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('user_exists');

    for (const [body, field] of [
      [{ name: 'x', role: 'root' }, 'role'],
      [{ name: '', role: 'viewer' }, 'name'],
      [{ name: ' padded', role: 'viewer' }, 'name'],
      [{ name: 'usr_0123456789abcdefghij', role: 'viewer' }, 'name'],
      [{ role: 'viewer' }, 'name'],
      [{ name: 'y', role: 'viewer', email: 'not an email' }, 'email'],
      [{ name: 'y', role: 'viewer', admin: true }, 'body'],
    ] as const) {
      const res = await admin.request('POST', '/v1/users', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details?.field ?? 'body', JSON.stringify(body)).toBe(field);
    }
    const list = await admin.vmo.users.list();
    expect(list.items.map((u) => u.name)).toEqual(['alice']);

    expect(await admin.vmo.users.get('alice')).toMatchObject({ id: alice.id });
    expect((await admin.request('GET', '/v1/users/nobody')).status).toBe(404);
    const changed = await admin.vmo.users.update(alice.id, { email: null });
    expect(changed.email).toBeNull();
    const bad = await admin.request('PATCH', `/v1/users/${alice.id}`, { role: 'superuser' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe('role');
    await createUser('bob', 'viewer');
    const clash = await admin.request('PATCH', '/v1/users/bob', { name: 'alice' });
    expect(clash.status).toBe(409);
  });

  it('a viewer cannot run or cancel (403 naming the scope, nothing created); an operator can run where a policy lets them; the job is stamped with its owner', async () => {
    await createUser('vera', 'viewer');
    const olga = await createUser('olga', 'operator');
    const viewer = as((await tokenFor('vera')).token);
    const operator = as((await tokenFor('olga')).token);

    const before = await jobCount();
    const refused = await viewer.request('POST', '/v1/jobs', agentJob);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', details: { scope: 'jobs:run', role: 'viewer' } });
    expect(refused.body.error.message).toContain('jobs:run');
    const run = await viewer.request('POST', '/v1/runs', { command: 'true', targets: { selector: 'team=a' } });
    expect(run.status).toBe(403);
    expect(await jobCount()).toBe(before);
    expect((await viewer.request('GET', '/v1/jobs')).status).toBe(200); // reading is a viewer's

    const job = await operator.submit(agentJob);
    expect(job.createdBy).toBe('olga');
    const [row] = await sql`select owner_id, created_by from jobs where id = ${job.id}`;
    expect(row).toEqual({ owner_id: olga.id, created_by: 'olga' });
    // Writes to the inventory are admins' (agents:write is no operator's).
    expect((await operator.request('POST', '/v1/agents', { name: 'sneaky' })).status).toBe(403);
    expect((await operator.request('DELETE', `/v1/agents/${agentId}`)).status).toBe(403);
    expect((await viewer.request('POST', `/v1/jobs/${job.id}/cancel`, {})).status).toBe(403);
    // A fleet run is stamped too, and each of its children.
    const fleet = await operator.request('POST', '/v1/runs', { command: 'true', targets: { agents: ['web-a'] } });
    expect(fleet.status, JSON.stringify(fleet.body)).toBe(201);
    const owners = await sql`select distinct owner_id from (select owner_id from runs where id = ${fleet.body.id} union all select owner_id from jobs where run_id = ${fleet.body.id}) o`;
    expect(owners).toEqual([{ owner_id: olga.id }]);
  });

  it("scopes narrow a token and never widen it: a jobs:read token cannot submit; a scope the role lacks is 400 naming it; a token's tokens can do no more and live no longer", async () => {
    await createUser('oscar', 'operator');
    const narrow = await tokenFor('oscar', { scopes: ['jobs:read'] });
    expect(narrow.token).toMatch(/^vmo_usr_/);
    const client = as(narrow.token, 1);
    const refused = await client.request('POST', '/v1/jobs', agentJob);
    expect(refused.status).toBe(403);
    expect(refused.body.error.details.scope).toBe('jobs:run');
    expect((await client.request('GET', '/v1/jobs')).status).toBe(200);
    expect((await client.vmo.users.me()).scopes).toEqual(['jobs:read']);

    const wider = await admin.request('POST', '/v1/tokens', { name: 'x', user: 'oscar', scopes: ['jobs:run', 'agents:write'] });
    expect(wider.status).toBe(400);
    expect(wider.body.error.details).toEqual({ field: 'scopes', scope: 'agents:write' });
    const unknown = await admin.request('POST', '/v1/tokens', { name: 'x', user: 'oscar', scopes: ['root'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.field).toMatch(/^scopes/);

    // Oscar's narrow token makes one for himself: it inherits the narrowing, and cannot ask for more.
    const child = await client.vmo.tokens.create({ name: 'child' });
    expect(child.scopes).toEqual(['jobs:read']);
    expect((await as(child.token).request('POST', '/v1/jobs', agentJob)).status).toBe(403);
    const more = await client.request('POST', '/v1/tokens', { name: 'more', scopes: ['jobs:run'] });
    expect(more.status).toBe(403);
    const expiring = await tokenFor('oscar', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    const later = await as(expiring.token).request('POST', '/v1/tokens', { name: 'later', expiresAt: new Date(Date.now() + 7_200_000).toISOString() });
    expect(later.status).toBe(400);
    expect(later.body.error.details.field).toBe('expiresAt');
    const inherited = await as(expiring.token).vmo.tokens.create({ name: 'inherits' });
    expect(inherited.expiresAt).toBe(expiring.expiresAt);

    // Someone else's token: admins only.
    const forBob = await client.request('POST', '/v1/tokens', { name: 'for-bob', user: 'bob' });
    expect(forBob.status).toBe(403);
    const noSuch = await admin.request('POST', '/v1/tokens', { name: 'x', user: 'nobody' });
    expect(noSuch.status).toBe(422);
    expect(noSuch.body.error.code).toBe('unknown_user');
    for (const [body, field] of [
      [{ user: 'oscar' }, 'name'],
      [{ name: 'x', user: 'oscar', expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'x', user: 'oscar', expiresAt: new Date(Date.now() - 1000).toISOString() }, 'expiresAt'],
      [{ name: 'x', user: 'oscar', scopes: [] }, 'scopes'],
      [{ name: 'x', user: 'oscar', role: 'admin' }, 'body'],
    ] as const) {
      const res = await admin.request('POST', '/v1/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details?.field ?? 'body', JSON.stringify(body)).toBe(field);
    }
  });

  it('a revoked token is 401 at once on the other API node, and anyone may list and revoke only their own', async () => {
    await createUser('rita', 'operator');
    const { id, token } = await tokenFor('rita');
    const onNode1 = as(token, 1);
    // Used on node 1 right before: if node 1 kept an answer for it, the next call would still pass.
    for (let i = 0; i < 3; i++) expect((await onNode1.request('GET', '/v1/jobs')).status).toBe(200);

    const own = await as(token).vmo.tokens.list();
    expect(own.items.map((t) => t.id)).toEqual([id]);
    // Someone else's token is the same 404 as none.
    const bobs = await tokenFor('bob');
    expect((await as(token).request('DELETE', `/v1/tokens/${bobs.id}`)).status).toBe(404);
    expect((await as(token).request('GET', '/v1/tokens?user=bob')).status).toBe(403);
    const all = await admin.vmo.tokens.list();
    expect(all.items.map((t) => t.id)).toEqual(expect.arrayContaining([id, bobs.id]));
    expect(all.items.some((t) => t.kind === 'bootstrap')).toBe(true);
    expect((await admin.vmo.tokens.list({ user: 'bob' })).items.map((t) => t.id)).toEqual([bobs.id]);

    await as(token, 0).vmo.tokens.revoke(id); // revoked through node 0 …
    const after = await onNode1.request('GET', '/v1/jobs'); // … refused at once on node 1
    expect(after.status).toBe(401);
    expect(after.body).toEqual(INVALID);
    expect((await as(token, 0).request('GET', '/v1/jobs')).status).toBe(401);
    expect((await admin.vmo.tokens.list({ user: 'rita' })).items).toEqual([]);
  });

  it("a token's tokens die with it: revoking a leaked narrow token revokes what it minted, and theirs, at once on the other node", async () => {
    await createUser('lena', 'operator');
    const leaked = await tokenFor('lena', { scopes: ['jobs:read'] });
    const child = await as(leaked.token).vmo.tokens.create({ name: 'copy' });
    const grandchild = await as(child.token, 1).vmo.tokens.create({ name: 'copy-of-copy' });
    const sibling = await tokenFor('lena'); // made by an admin: no parent, untouched
    const c1 = as(child.token, 1);
    const g1 = as(grandchild.token, 1);
    expect((await c1.request('GET', '/v1/jobs')).status).toBe(200);
    expect((await g1.request('GET', '/v1/jobs')).status).toBe(200);
    expect((await sql`select parent_token_id from api_tokens where id = ${child.id}`)[0]!.parent_token_id).toBe(leaked.id);

    await admin.vmo.tokens.revoke(leaked.id); // on node 0 …
    for (const client of [c1, g1, as(leaked.token, 1)]) {
      const res = await client.request('GET', '/v1/jobs'); // … all refused at once on node 1
      expect(res.status).toBe(401);
      expect(res.body).toEqual(INVALID);
    }
    expect((await as(child.token).request('POST', '/v1/tokens', { name: 'again' })).status).toBe(401);
    expect((await as(sibling.token, 1).request('GET', '/v1/jobs')).status).toBe(200);
    expect((await admin.vmo.tokens.list({ user: 'lena' })).items.map((t) => t.id)).toEqual([sibling.id]);
  });

  it('an expired token is 401, on every node, from its expiresAt on', async () => {
    await createUser('ed', 'viewer');
    const soon = await tokenFor('ed', { expiresAt: new Date(Date.now() + 4000).toISOString() });
    const expiresAt = Date.parse(soon.expiresAt!);
    expect((await as(soon.token, 1).request('GET', '/v1/jobs')).status).toBe(200);
    await waitFor('the token to expire', async () => (await as(soon.token, 1).request('GET', '/v1/jobs')).status === 401, 30_000, 100);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt); // not before its time
    expect((await as(soon.token, 0).request('GET', '/v1/jobs')).body).toEqual(INVALID);

    // A token whose expiry is moved into the past is refused at the next request on the other node.
    const other = await tokenFor('ed', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await as(other.token, 1).request('GET', '/v1/jobs')).status).toBe(200);
    await sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${other.id}`;
    expect((await as(other.token, 1).request('GET', '/v1/jobs')).status).toBe(401);
  });

  it("a disabled user is 401 at once on the other node, and a role change holds from the next request; a refusal says nothing about what exists", async () => {
    await createUser('dora', 'operator');
    const { token } = await tokenFor('dora');
    const onNode1 = as(token, 1);
    expect((await onNode1.request('POST', '/v1/jobs', agentJob)).status).toBe(201);

    await admin.vmo.users.update('dora', { role: 'viewer' });
    expect((await onNode1.request('POST', '/v1/jobs', agentJob)).status).toBe(403);
    expect((await onNode1.vmo.users.me()).role).toBe('viewer');

    await admin.vmo.users.update('dora', { disabled: true });
    const disabled = await onNode1.request('GET', '/v1/jobs');
    expect(disabled.status).toBe(401);
    // The same answer as a token that never existed, or a malformed one: no oracle.
    const unknown = await as('vmo_usr_' + 'A'.repeat(43), 1).request('GET', '/v1/jobs');
    const garbage = await as('not-even-a-vmo-token', 1).request('GET', '/v1/jobs');
    expect(disabled.body).toEqual(INVALID);
    expect(unknown.body).toEqual(INVALID);
    expect(garbage.body).toEqual(INVALID);

    await admin.vmo.users.update('dora', { disabled: false });
    expect((await onNode1.request('GET', '/v1/jobs')).status).toBe(200);
  });

  it('a spoofed user header from an untrusted address is 401, and creates nobody; with a token, the token decides', async () => {
    const headers = { 'X-VM-User': 'mallory', 'X-VM-Email': 'mallory@example.com' };
    // Node 0 trusts 127.0.0.2, not 127.0.0.1; node 1 trusts nobody (the default) — not even 127.0.0.2.
    expect((await callFrom(system.apiUrls[0]!, '127.0.0.1', 'GET', '/v1/me', headers)).status).toBe(401);
    expect((await callFrom(system.apiUrls[1]!, PROXY_ADDRESS, 'GET', '/v1/me', headers)).status).toBe(401);
    expect((await callFrom(system.apiUrls[1]!, PROXY_ADDRESS, 'POST', '/v1/jobs', headers, agentJob)).status).toBe(401);
    expect((await admin.request('GET', '/v1/users/mallory')).status).toBe(404);
    // A stream upgrade with the header alone, from an untrusted address, is refused too.
    const [job] = await sql`select id from jobs limit 1`;
    const ws = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${job!.id}/stream`, { headers, localAddress: '127.0.0.1' });
    expect(ws.kind === 'refused' && ws.status).toBe(401);

    // A token with the header: the token is who calls, the header counts for nothing.
    await createUser('tess', 'viewer');
    const { token } = await tokenFor('tess');
    const me = await callFrom(system.apiUrls[0]!, '127.0.0.1', 'GET', '/v1/me', { ...headers, authorization: `Bearer ${token}` });
    expect(me.body).toMatchObject({ kind: 'user', name: 'tess' });
  });

  it('behind the trusted proxy a user is created on first sight with the default role, works on REST and streams, and may make a token for the CLI', async () => {
    const proxied = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
      callFrom(system.apiUrls[0]!, PROXY_ADDRESS, method, path, { 'X-VM-User': 'carol@example.com', 'X-VM-Email': 'carol@example.com', ...headers }, body);
    const me = await proxied('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ kind: 'proxy', name: 'carol@example.com', email: 'carol@example.com', role: 'viewer', token: null });
    const user = await admin.vmo.users.get('carol@example.com');
    expect(user).toMatchObject({ id: me.body.id, role: 'viewer', source: 'proxy', email: 'carol@example.com' });
    expect((await proxied('GET', '/v1/me')).body.id).toBe(user.id); // the same user the second time

    // The default role: a viewer cannot run.
    expect((await proxied('POST', '/v1/jobs', {}, agentJob)).status).toBe(403);
    // An admin raises her role; the next proxied request has it.
    await admin.vmo.users.update(user.id, { role: 'operator' });
    const submitted = await proxied('POST', '/v1/jobs', {}, agentJob);
    expect(submitted.status).toBe(201);
    const [row] = await sql`select owner_id, created_by from jobs where id = ${submitted.body.id}`;
    expect(row).toEqual({ owner_id: user.id, created_by: 'carol@example.com' });

    // A stream upgrade through the proxy opens, with no token at all.
    const ws = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${submitted.body.id}/stream`, { headers: { 'X-VM-User': 'carol@example.com' }, localAddress: PROXY_ADDRESS });
    expect(ws.kind).toBe('open');
    if (ws.kind === 'open') ws.ws.close();

    // Her own token for the CLI, usable anywhere (node 1 trusts no proxy).
    const made = await proxied('POST', '/v1/tokens', {}, { name: 'laptop' });
    expect(made.status).toBe(201);
    expect((await as(made.body.token, 1).vmo.users.me()).name).toBe('carol@example.com');

    // A user header sent twice is refused: one of them may be the client's own.
    const twice = await new Promise<string>((resolve, reject) => {
      const url = new URL('/v1/me', system.apiUrls[0]!);
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, localAddress: PROXY_ADDRESS, headers: ['Host', url.host, 'X-VM-User', 'carol@example.com', 'X-VM-User', 'alice'] as never }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', reject);
      req.end();
    });
    expect(twice).toMatch(/^401 /);
    // A disabled proxy user is refused like any other.
    await admin.vmo.users.update(user.id, { disabled: true });
    expect((await proxied('GET', '/v1/me')).body).toEqual(INVALID);
    // Another name is another user, created as a viewer.
    expect((await proxied('GET', '/v1/me', { 'X-VM-User': 'dave', 'X-VM-Email': 'nonsense' })).body).toMatchObject({ kind: 'proxy', name: 'dave', role: 'viewer', email: null });
  });

  it('answers with the request id it was given, or one of its own', async () => {
    const given = await admin.vmo.raw('GET', '/v1/me', { headers: { 'X-Request-Id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const refused = await new ApiClient(system.apiUrls[0]!, undefined).vmo.raw('GET', '/v1/me', { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
