/**
 * Issue 11: "an expired or revoked token is 401 at once", on streams as on REST. A job or run
 * stream opened with a valid credential is closed when that access ends: 4401 when the token is
 * revoked or expires or its user is disabled, 4404 ("no such job", the words of a job that does
 * not exist) when the policy that let its subscriber read the job is deleted; a reconnect is then
 * refused with the 401 or 404. And a proxy user first seen on a WebSocket upgrade has its
 * users.create audit row, as over REST. Real API and worker processes, Postgres and Redis.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import { openWebSocket, TestSystem, uniqueSleepArg, waitFor, type ApiClient, type UpgradeResult } from '@vmo/testkit';

/** Far more than the API needs (it is told at once); the periodic re-check alone would do it within 15 s. */
const CLOSE_DEADLINE_MS = 30_000;

describe('open streams end when access ends (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  /** An admin's long-running local job: every stream here follows it. */
  let jobId: string;
  const marker = uniqueSleepArg();

  const newToken = async (user: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user, ...extra });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.id, token: res.body.token };
  };
  const jobStream = (token: string) => openWebSocket(`${system.apiUrls[0]}/v1/jobs/${jobId}/stream`, { token });
  const opened = async (token: string, path = `/v1/jobs/${jobId}/stream`): Promise<Extract<UpgradeResult, { kind: 'open' }>> => {
    const stream = await openWebSocket(`${system.apiUrls[0]}${path}`, { token });
    expect(stream.kind === 'refused' ? `refused ${stream.status} ${stream.body}` : 'open').toBe('open');
    return stream as Extract<UpgradeResult, { kind: 'open' }>;
  };
  /** The close the server sent, or a failure naming the deadline. */
  const closedWithin = async (stream: Extract<UpgradeResult, { kind: 'open' }>, ms = CLOSE_DEADLINE_MS) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the stream was still open after ${ms} ms`)), ms)));
    try {
      return await Promise.race([stream.closed, deadline]);
    } finally {
      clearTimeout(timer);
      stream.ws.terminate();
    }
  };

  beforeAll(async () => {
    // The test process connects from 127.0.0.1, the trusted auth proxy here.
    system = await TestSystem.start({ label: 'stream_revocation', env: { VMO_TRUSTED_PROXIES: '127.0.0.1/32' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    admin = system.client;
    for (const [name, role] of [['sr-revoked', 'operator'], ['sr-disabled', 'operator'], ['sr-viewer', 'viewer'], ['sr-expiring', 'operator']]) {
      const res = await admin.request('POST', '/v1/users', { name, role });
      expect(res.status, res.text).toBe(201);
    }
    // Reading the local target is an admin's unless a policy grants it: these users read it by policy.
    for (const [name, users] of [['sr-read-local', ['sr-revoked', 'sr-disabled', 'sr-expiring']], ['sr-viewer-local', ['sr-viewer']]] as const) {
      const res = await admin.request('POST', '/v1/policies', { name, subjects: { users }, actions: ['read'], local: true });
      expect(res.status, res.text).toBe(201);
    }
    const job = await admin.request('POST', '/v1/jobs', { command: `echo started; sleep ${marker}`, target: { type: 'local' } });
    expect(job.status, job.text).toBe(201);
    jobId = job.body.id;
    await admin.waitForStatus(jobId, 'running');
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  it('a revoked token: its open job stream is closed 4401 (the job runs on), and a reconnect is 401', async () => {
    const { id, token } = await newToken('sr-revoked');
    const stream = await opened(token);
    await waitFor('the stream is live (its first frame)', () => (stream.texts.length > 0 ? true : undefined), 15_000);
    expect((await admin.request('DELETE', `/v1/tokens/${id}`)).status).toBe(204);
    expect(await closedWithin(stream)).toEqual({ code: 4401, reason: 'the token is not valid' });
    const again = await jobStream(token);
    expect(again.kind === 'refused' && again.status).toBe(401);
    expect((await admin.request('GET', `/v1/jobs/${jobId}`)).body.status).toBe('running');
  });

  it('a disabled user: every stream of theirs is closed 4401, and a reconnect is 401', async () => {
    const { token } = await newToken('sr-disabled');
    const [first, second] = [await opened(token), await opened(token)];
    const patched = await admin.request('PATCH', '/v1/users/sr-disabled', { disabled: true });
    expect(patched.status, patched.text).toBe(200);
    expect(await closedWithin(first)).toMatchObject({ code: 4401 });
    expect(await closedWithin(second)).toMatchObject({ code: 4401 });
    const again = await jobStream(token);
    expect(again.kind === 'refused' && again.status).toBe(401);
  });

  it("the deleted policy that let a viewer read the job: the stream is closed 4404 with a missing job's words, and a reconnect is 404", async () => {
    const { token } = await newToken('sr-viewer');
    const stream = await opened(token);
    const none = newId('job');
    expect((await admin.request('DELETE', '/v1/policies/sr-viewer-local')).status).toBe(204);
    expect(await closedWithin(stream)).toEqual({ code: 4404, reason: 'no such job' });
    const again = await jobStream(token);
    const missing = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${none}/stream`, { token });
    expect(again.kind === 'refused' && again.status).toBe(404);
    // The same answer as for a job that does not exist: the stream tells nothing more.
    expect(again.kind === 'refused' && again.body.replaceAll(jobId, '<id>')).toBe(missing.kind === 'refused' && missing.body.replaceAll(none, '<id>'));
  });

  it('a token that expires while its stream is open: closed 4401 once its expiresAt passes, and a reconnect is 401', async () => {
    // The stream must open before its token expires, and a loaded machine may take longer than a
    // short life to create it and open the stream: a token that expired first (and only one that
    // did) is tried again with a life twice as long. The first that opens is closed by its expiry
    // timer (stream-access.ts), set when it opened.
    let stream: Extract<UpgradeResult, { kind: 'open' }> | undefined;
    let token = '';
    for (const lifeMs of [4_000, 8_000, 16_000, 32_000]) {
      const expiresAt = Date.now() + lifeMs;
      const created = await admin.request('POST', '/v1/tokens', { name: `sr-expiring's token, ${lifeMs} ms`, user: 'sr-expiring', expiresAt: new Date(expiresAt).toISOString() });
      if (created.status === 201) {
        token = created.body.token;
        const attempt = await jobStream(token);
        if (attempt.kind === 'open') {
          stream = attempt;
          break;
        }
        expect(attempt.status, attempt.body).toBe(401);
      }
      expect(Date.now(), `refused (${created.status === 201 ? 'the stream' : created.text}) before the token expired`).toBeGreaterThanOrEqual(expiresAt);
    }
    expect(stream, 'no stream opened before its token expired').toBeDefined();
    expect(await closedWithin(stream!)).toEqual({ code: 4401, reason: 'the token is not valid' });
    const again = await jobStream(token);
    expect(again.kind === 'refused' && again.status).toBe(401);
  });

  it("a run stream too: the owner's token revoked, its open run stream is closed 4401", async () => {
    const user = await admin.request('POST', '/v1/users', { name: 'sr-run-owner', role: 'operator' });
    expect(user.status, user.text).toBe(201);
    const { id, token } = await newToken('sr-run-owner');
    // A running run of theirs whose only child waits for an agent that never comes: the stream stays open.
    const runId = newId('run');
    await sql.begin(async (tx) => {
      await tx`
        insert into runs (id, status, command, timeout_ms, targets, strategy, total, owner_id)
        values (${runId}, 'running', 'echo', 60000, ${JSON.stringify({ agents: ['nowhere'] })}::jsonb,
                ${JSON.stringify({ maxConcurrency: 1, maxErrors: null, canary: null })}::jsonb, 1, ${user.body.id})`;
      await tx`
        insert into jobs (id, status, command, target, agent_id, timeout_ms, run_id, run_index, target_name, target_kind, owner_id)
        values (${newId('job')}, 'queued', 'echo', ${JSON.stringify({ type: 'agent', agent: 'agt_nowhere' })}::jsonb, null, 60000, ${runId}, 0, 'nowhere', 'agent', ${user.body.id})`;
    });
    const stream = await opened(token, `/v1/runs/${runId}/stream`);
    expect((await admin.request('DELETE', `/v1/tokens/${id}`)).status).toBe(204);
    expect(await closedWithin(stream)).toEqual({ code: 4401, reason: 'the token is not valid' });
    const again = await openWebSocket(`${system.apiUrls[0]}/v1/runs/${runId}/stream`, { token });
    expect(again.kind === 'refused' && again.status).toBe(401);
  });

  it("a stream opened with the auth proxy's user header (no token): closed 4401 when that user is disabled, and a reconnect is 401", async () => {
    expect((await admin.request('POST', '/v1/users', { name: 'sr-proxied', role: 'viewer' })).status).toBe(201);
    const grant = await admin.request('POST', '/v1/policies', { name: 'sr-proxied-local', subjects: { users: ['sr-proxied'] }, actions: ['read'], local: true });
    expect(grant.status, grant.text).toBe(201);
    const url = `${system.apiUrls[0]}/v1/jobs/${jobId}/stream`;
    const headers = { 'X-VM-User': 'sr-proxied', 'X-VM-Email': 'proxied@example.com' };
    const stream = await openWebSocket(url, { headers });
    expect(stream.kind === 'refused' ? `refused ${stream.status} ${stream.body}` : 'open').toBe('open');
    expect((await admin.request('PATCH', '/v1/users/sr-proxied', { disabled: true })).status).toBe(200);
    expect(await closedWithin(stream as Extract<UpgradeResult, { kind: 'open' }>)).toEqual({ code: 4401, reason: 'the token is not valid' });
    const again = await openWebSocket(url, { headers });
    expect(again.kind === 'refused' && again.status).toBe(401);
  });

  it("the agent gateway already does the same for agents: a revoked agent's socket is closed 4401, a rotated token's 4410, and the old token is refused", async () => {
    const connect = (token: string) => openWebSocket(`${system.apiUrls[0]}/v1/agent/connect`, { token });
    const revoked = await admin.request('POST', '/v1/agents', { name: 'sr-agent-revoked' });
    const rotated = await admin.request('POST', '/v1/agents', { name: 'sr-agent-rotated' });
    expect([revoked.status, rotated.status]).toEqual([201, 201]);
    // No hello is sent: the gateway would close it 1008 after 10 s, long after what is tested here.
    const [a, b] = [await connect(revoked.body.token), await connect(rotated.body.token)];
    expect([a.kind, b.kind]).toEqual(['open', 'open']);
    expect((await admin.request('DELETE', `/v1/agents/${revoked.body.id}`)).status).toBe(204);
    expect((await admin.request('POST', `/v1/agents/${rotated.body.id}/rotate-token`)).status).toBe(200);
    expect(await closedWithin(a as Extract<UpgradeResult, { kind: 'open' }>, 9_000)).toMatchObject({ code: 4401 });
    expect(await closedWithin(b as Extract<UpgradeResult, { kind: 'open' }>, 9_000)).toMatchObject({ code: 4410 });
    const [againA, againB] = [await connect(revoked.body.token), await connect(rotated.body.token)];
    expect([againA.kind === 'refused' && againA.status, againB.kind === 'refused' && againB.status]).toEqual([401, 401]);
  });

  it('a proxy user first seen on a WebSocket upgrade has its users.create row, as over REST, once', async () => {
    const url = `${system.apiUrls[0]}/v1/jobs/${jobId}/stream`;
    const headers = { 'X-VM-User': 'sr-ws-newcomer', 'X-Forwarded-For': '203.0.113.5', 'X-Request-Id': 'sr-ws-first' };
    // A new viewer may not read the local target: the upgrade is refused 404, but the user was made.
    const first = await openWebSocket(url, { headers });
    expect(first.kind === 'refused' && first.status).toBe(404);
    const [user] = await sql<{ id: string; role: string }[]>`select id, role from users where name = 'sr-ws-newcomer'`;
    expect(user).toMatchObject({ role: 'viewer' });
    const rows = await sql`select actor_kind, actor_id, actor_name, token_id, action, resource_type, resource_id, source_ip, result, detail from audit_events where request_id = 'sr-ws-first' order by id`;
    expect(rows.find((r) => r.action === 'users.create')).toEqual({
      actor_kind: 'proxy',
      actor_id: user!.id,
      actor_name: 'sr-ws-newcomer',
      token_id: null,
      action: 'users.create',
      resource_type: 'users',
      resource_id: user!.id,
      source_ip: '203.0.113.5',
      result: 'allowed',
      detail: { via: 'proxy', role: 'viewer' },
    });
    // The next upgrade of the same user creates nothing, and records no second creation.
    const second = await openWebSocket(url, { headers: { ...headers, 'X-Request-Id': 'sr-ws-second' } });
    expect(second.kind === 'refused' && second.status).toBe(404);
    const creations = await sql`select count(*)::int as n from audit_events where action = 'users.create' and resource_id = ${user!.id}`;
    expect(creations[0]!.n).toBe(1);
  });
});
