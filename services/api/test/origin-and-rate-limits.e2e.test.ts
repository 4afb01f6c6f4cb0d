/**
 * Issue 11 §Hardening, against real API processes: browser WebSocket upgrades (and REST requests)
 * from a page of a foreign Origin are refused (VMO_ALLOWED_ORIGINS); failed authentications are
 * limited per source address and per credential presented (VMO_AUTH_FAIL_RATE) and submissions
 * per credential (VMO_SUBMIT_RATE), with 429 `rate_limited` and Retry-After, across API nodes (the
 * counts are in Redis). Clients connect from several loopback addresses (127.0.0.x) to be several
 * sources; 127.0.0.8 is a trusted proxy, whose clients are counted by the address it forwards
 * (X-Forwarded-For). Each case refuses a wrong token of its own, since a wrong token is counted too.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { keys as keysFor } from '@vmo/shared/redis';
import { TEST_REDIS_URL, TestSystem, waitFor } from '@vmo/testkit';

const ALLOWED = 'https://console.example.com';
/** A token nobody has; a fresh one per case: failures are also counted per credential. */
const wrongToken = () => `vmo_adm_wrong${randomBytes(12).toString('hex')}`;
const PROXY = '127.0.0.8';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

/** One HTTP request from `localAddress`, on a connection of its own. */
function send(baseUrl: string, method: string, path: string, opts: { token?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, baseUrl), {
      method,
      agent: false,
      localAddress: opts.localAddress ?? '127.0.0.1',
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.end(opts.body);
  });
}

type Upgrade = { kind: 'open'; ws: WebSocket; first: Promise<any> } | ({ kind: 'refused' } & Answer);

/** A WebSocket upgrade as a browser or a CLI would send it; the refusal with its headers. */
function upgrade(url: string, opts: { token?: string; protocols?: string[]; origin?: string; headers?: Record<string, string>; localAddress?: string } = {}): Promise<Upgrade> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), opts.protocols ?? [], {
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    ...(opts.origin ? { origin: opts.origin } : {}),
    localAddress: opts.localAddress ?? '127.0.0.1',
  });
  const first = new Promise((resolve) => ws.once('message', (raw) => resolve(JSON.parse(raw.toString()))));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ kind: 'open', ws, first }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, text, body: JSON.parse(text) });
        ws.terminate();
      });
    });
    ws.on('error', reject);
  });
}

function expectRateLimited(answer: Answer, maxSeconds: number): number {
  expect(answer.status, answer.text).toBe(429);
  expect(answer.body.error.code).toBe('rate_limited');
  const retryAfter = Number(answer.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  expect(answer.body.error.details).toEqual({ retryAfterSeconds: retryAfter });
  return retryAfter;
}

describe('hostile Origin and rate limits, on two API nodes', () => {
  let system: TestSystem;
  let api: string;
  let api2: string;
  /** A second credential: node 2 starts with its own VMO_ADMIN_TOKEN, valid on both nodes. */
  const token2 = `vmo_adm_second${randomBytes(16).toString('hex')}`;
  let jobId: string;
  let runId: string;
  let redis: Redis;
  const jobCount = async () => (await send(api, 'GET', '/v1/jobs?limit=500', { token: system.token })).body.items.length as number;

  beforeAll(async () => {
    // No worker: jobs stay queued, which is all a stream needs here.
    system = await TestSystem.start({
      label: 'origin_rate',
      workers: 0,
      // 127.0.0.8 plays an auth proxy (oauth2-proxy) in front of the API.
      env: { VMO_ALLOWED_ORIGINS: `${ALLOWED},http://localhost:5173`, VMO_AUTH_FAIL_RATE: '5/15s', VMO_SUBMIT_RATE: '6/15s', VMO_TRUSTED_PROXIES: `${PROXY}/32` },
    });
    await system.startApi({ VMO_ADMIN_TOKEN: token2 });
    [api, api2] = system.apiUrls as [string, string];
    redis = new Redis(TEST_REDIS_URL);
    jobId = (await system.client.submit({ command: 'echo hi' })).id;
    const host = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'origin', host: '127.0.0.1', port: 1, user: 'root' });
    expect(host.status, host.text).toBe(201);
    const run = await system.client.request('POST', '/v1/runs', { command: 'true', targets: { hosts: ['box@origin'] } });
    expect(run.status, run.text).toBe(201);
    runId = run.body.id;
  });

  afterAll(async () => {
    redis?.disconnect();
    await system?.stop();
  });

  const streams = () => [
    ['job stream', `${api}/v1/jobs/${jobId}/stream`],
    ['run stream', `${api}/v1/runs/${runId}/stream`],
  ] as const;

  it('a hostile Origin cannot open a job or run stream with a valid token: 403 forbidden at the upgrade, never echoing the token', async () => {
    const port = new URL(api).port;
    for (const [what, url] of streams()) {
      for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`, 'http://console.example.com']) {
        // As a browser sends it (the token in a subprotocol), and with the header (a page cannot, but the check must not depend on it).
        for (const auth of [{ protocols: ['vmo.v1', `bearer.${system.token}`] }, { token: system.token }]) {
          const res = await upgrade(url, { origin, ...auth });
          expect(res.kind, `${what} from ${origin}`).toBe('refused');
          if (res.kind !== 'refused') continue;
          expect(res.status, `${what} from ${origin}`).toBe(403);
          expect(res.body.error.code).toBe('forbidden');
          expect(res.body.error.message).toMatch(/Origin is not allowed/);
          expect(res.text).not.toContain(system.token);
        }
      }
    }
  });

  it('an allowed Origin, the API\'s own origin and a client without Origin open both streams', async () => {
    for (const [what, url] of streams()) {
      const cases: [string, Parameters<typeof upgrade>[1]][] = [
        ['no Origin (CLI)', { token: system.token }],
        ['a listed Origin (browser)', { origin: ALLOWED, protocols: ['vmo.v1', `bearer.${system.token}`] }],
        ['a listed Origin with a port', { origin: 'http://localhost:5173', protocols: ['vmo.v1', `bearer.${system.token}`] }],
        ["the API's own origin", { origin: api, protocols: ['vmo.v1', `bearer.${system.token}`] }],
      ];
      for (const [how, opts] of cases) {
        const res = await upgrade(url, opts);
        expect(res.kind, `${what}, ${how}: ${res.kind === 'refused' ? res.text : ''}`).toBe('open');
        if (res.kind !== 'open') continue;
        expect(['status', 'progress']).toContain((await res.first).type);
        res.ws.close(1000);
      }
    }
  });

  it('the Origin is checked before authentication: a hostile page with a wrong token gets 403, not 401, and it is not counted as a failed authentication', async () => {
    const WRONG = wrongToken();
    const from = '127.0.0.5';
    for (let i = 0; i < 8; i++) {
      const [, url] = streams()[i % 2]!;
      const res = await upgrade(url, { origin: 'https://evil.example', protocols: ['vmo.v1', `bearer.${WRONG}`], localAddress: from });
      expect(res.kind === 'refused' && res.status).toBe(403);
      expect((await send(api, 'GET', '/v1/jobs', { token: WRONG, headers: { origin: 'https://evil.example' }, localAddress: from })).status).toBe(403);
    }
    expect(await redis.exists(keysFor(system.env.VMO_REDIS_PREFIX!).rateLimit('auth-fail', from))).toBe(0);
    expect((await send(api, 'GET', '/v1/jobs', { token: WRONG, localAddress: from })).status).toBe(401);
  });

  it('REST: a page of another origin cannot submit a job (a text/plain POST needs no preflight): 403 and nothing created; allowed and Origin-less requests go on', async () => {
    const before = await jobCount();
    const job = JSON.stringify({ command: 'echo csrf' });
    const hostile = await send(api, 'POST', '/v1/jobs', { token: system.token, body: job, headers: { origin: 'https://evil.example', 'content-type': 'text/plain' } });
    expect(hostile.status, hostile.text).toBe(403);
    expect(hostile.body.error.code).toBe('forbidden');
    expect(await jobCount()).toBe(before);
    expect((await send(api, 'POST', '/v1/jobs', { token: system.token, body: job, headers: { origin: ALLOWED } })).status).toBe(201);
    expect((await send(api, 'GET', '/v1/jobs', { token: system.token, headers: { origin: api } })).status).toBe(200);
    // Health and the API document are not behind the check.
    expect((await send(api, 'GET', '/health', { headers: { origin: 'https://evil.example' } })).status).toBe(200);
  });

  it('failed authentications: past VMO_AUTH_FAIL_RATE an address gets 429 with Retry-After for any token, on REST and upgrades; requests without a token and other addresses are unaffected; it recovers after the window', async () => {
    const WRONG = wrongToken();
    const attacker = '127.0.0.3';
    const bystander = '127.0.0.4';
    // Five refused tokens (the limit), on REST, a stream and the agent endpoint alike: 401 each.
    const refusals: (Answer | Upgrade)[] = [
      await send(api, 'GET', '/v1/jobs', { token: WRONG, localAddress: attacker }),
      await send(api, 'POST', '/v1/jobs', { token: WRONG, body: '{"command":"true"}', localAddress: attacker }),
      await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: WRONG, localAddress: attacker }),
      await upgrade(`${api}/v1/runs/${runId}/stream`, { protocols: ['vmo.v1', `bearer.${WRONG}`], localAddress: attacker }),
      await upgrade(`${api}/v1/agent/connect`, { token: 'vmo_agt_unknownunknownunknownunknown', localAddress: attacker }),
    ];
    expect(refusals.map((r) => ('ws' in r ? 'open' : r.status))).toEqual([401, 401, 401, 401, 401]);
    // Requests without a token, or with a malformed header, are not failures: they look nothing up.
    expect((await send(api, 'GET', '/v1/jobs', { localAddress: attacker })).status).toBe(401);
    expect((await send(api, 'GET', '/v1/jobs', { headers: { authorization: 'Basic eDp5' }, localAddress: attacker })).status).toBe(401);

    // The sixth: 429 instead of 401.
    const retryAfter = expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: WRONG, localAddress: attacker }), 15);
    // Now every token from that address is 429 before it is looked at, the right one too (no oracle).
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: system.token, localAddress: attacker }), 15);
    const stream = await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: system.token, localAddress: attacker });
    expect(stream.kind).toBe('refused');
    if (stream.kind === 'refused') expectRateLimited(stream, 15);
    // A request without a token (a proxy's user behind the same address) is not held up; health neither.
    expect((await send(api, 'GET', '/v1/jobs', { localAddress: attacker })).status).toBe(401);
    expect((await send(api, 'GET', '/health', { localAddress: attacker })).status).toBe(200);

    // Another address: untouched, with a count of its own.
    expect((await send(api, 'GET', '/v1/jobs', { token: system.token, localAddress: bystander })).status).toBe(200);
    // (Another wrong token: this one is now blocked as a credential, from any address.)
    expect((await send(api, 'GET', '/v1/jobs', { token: wrongToken(), localAddress: bystander })).status).toBe(401);
    const bystanderStream = await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: system.token, localAddress: bystander });
    expect(bystanderStream.kind).toBe('open');
    if (bystanderStream.kind === 'open') bystanderStream.ws.close(1000);

    // After the window: the right token works again from the attacker's address, and a wrong one is a plain 401.
    const blockedAt = Date.now();
    await waitFor('the block to end', async () => (await send(api, 'GET', '/v1/jobs', { token: system.token, localAddress: attacker })).status === 200, (retryAfter + 30) * 1000, 250);
    expect(Date.now() - blockedAt).toBeGreaterThanOrEqual((retryAfter - 1) * 1000);
    expect((await send(api, 'GET', '/v1/jobs', { token: wrongToken(), localAddress: attacker })).status).toBe(401);
  });

  it('failed authentications are counted across API nodes: failures on either add up, and both then refuse the address', async () => {
    const WRONG = wrongToken();
    const from = '127.0.0.6';
    const statuses = [];
    for (const base of [api, api2, api, api2, api]) statuses.push((await send(base, 'GET', '/v1/jobs', { token: WRONG, localAddress: from })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expectRateLimited(await send(api2, 'GET', '/v1/jobs', { token: WRONG, localAddress: from }), 15);
    expectRateLimited(await send(api2, 'GET', '/v1/jobs', { token: system.token, localAddress: from }), 15);
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: WRONG, localAddress: from }), 15);
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: token2, localAddress: from }), 15);
  });

  it('behind a trusted proxy: each client is counted on the address the proxy forwards (X-Forwarded-For): one past the limit is 429, another behind the same proxy is served, and so are the users the proxy names by header', async () => {
    const [first, second] = ['198.51.100.21', '198.51.100.22'];
    const via = (client: string) => ({ 'x-forwarded-for': client });
    const failKey = (address: string) => keysFor(system.env.VMO_REDIS_PREFIX!).rateLimit('auth-fail', address);
    // Five refused tokens from one client (a fresh token each: only its address adds up): 401 each; the sixth is 429, for its address.
    for (let i = 0; i < 5; i++) expect((await send(api, 'GET', '/v1/jobs', { token: wrongToken(), headers: via(first), localAddress: PROXY })).status).toBe(401);
    const over = await send(api, 'GET', '/v1/jobs', { token: wrongToken(), headers: via(first), localAddress: PROXY });
    expectRateLimited(over, 15);
    expect(over.body.error.message).toMatch(/too many failed authentications from your address/);
    // That client is now refused with the right token too, on REST and streams, also when it writes an entry of its own left of the one the proxy appended.
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: system.token, headers: via(`203.0.113.50, ${first}`), localAddress: PROXY }), 15);
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: system.token, headers: { ...via(first), 'x-vm-user': 'alice' }, localAddress: PROXY }), 15);
    const firstStream = await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: system.token, headers: via(first), localAddress: PROXY });
    expect(firstStream.kind).toBe('refused');
    if (firstStream.kind === 'refused') expectRateLimited(firstStream, 15);

    // Another client behind the same proxy: served on REST and streams, with a count of its own (a wrong token is a plain 401).
    expect((await send(api, 'GET', '/v1/jobs', { token: system.token, headers: via(second), localAddress: PROXY })).status).toBe(200);
    expect((await send(api, 'GET', '/v1/jobs', { token: wrongToken(), headers: via(second), localAddress: PROXY })).status).toBe(401);
    const secondStream = await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: system.token, headers: via(second), localAddress: PROXY });
    expect(secondStream.kind, secondStream.kind === 'refused' ? secondStream.text : '').toBe('open');
    if (secondStream.kind === 'open') secondStream.ws.close(1000);
    // The proxy's own request (nothing forwarded) is its own address, not blocked either.
    expect((await send(api, 'GET', '/v1/jobs', { token: system.token, localAddress: PROXY })).status).toBe(200);
    // The counts are the clients', none the proxy's.
    expect(await redis.get(failKey(first))).toBe('6');
    expect(await redis.get(failKey(second))).toBe('1');
    expect(await redis.exists(failKey(PROXY))).toBe(0);

    // Browser users the proxy names, from the blocked client: served, whether or not it forwards its own (OIDC) bearer, on REST and streams.
    const oidc = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
    expect((await send(api, 'GET', '/v1/me', { headers: { ...via(first), 'x-vm-user': 'alice' }, localAddress: PROXY })).status).toBe(200);
    expect((await send(api, 'GET', '/v1/me', { token: oidc, headers: { ...via(first), 'x-vm-user': 'alice' }, localAddress: PROXY })).status).toBe(200);
    const ws = new WebSocket(`${api.replace(/^http/, 'ws')}/v1/jobs/${jobId}/stream`, { headers: { ...via(first), 'x-vm-user': 'alice', authorization: `Bearer ${oidc}` }, localAddress: PROXY });
    const opened = await new Promise<number>((resolve) => {
      ws.once('open', () => resolve(101));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(0));
    });
    ws.terminate();
    // Opened, or refused by what alice may see (404 for a job she may not read): never 429.
    expect([101, 404]).toContain(opened);
  });

  it("X-Forwarded-For from a peer that is not a trusted proxy is ignored: its failures count on its own address whatever client it names, and never on that client's", async () => {
    const from = '127.0.0.9';
    const failKey = (address: string) => keysFor(system.env.VMO_REDIS_PREFIX!).rateLimit('auth-fail', address);
    const named = (i: number) => ({ 'x-forwarded-for': `198.51.100.${30 + i}` });
    for (let i = 0; i < 5; i++) expect((await send(api, 'GET', '/v1/jobs', { token: wrongToken(), headers: named(i), localAddress: from })).status).toBe(401);
    const over = await send(api, 'GET', '/v1/jobs', { token: wrongToken(), headers: named(5), localAddress: from });
    expectRateLimited(over, 15);
    expect(over.body.error.message).toMatch(/too many failed authentications from your address/);
    // Naming yet another client does not get it out: the right token is 429 from it, on REST and streams.
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: system.token, headers: named(6), localAddress: from }), 15);
    const stream = await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: system.token, headers: named(7), localAddress: from });
    expect(stream.kind).toBe('refused');
    if (stream.kind === 'refused') expectRateLimited(stream, 15);
    expect(await redis.get(failKey(from))).toBe('6');
    for (let i = 0; i <= 7; i++) expect(await redis.exists(failKey(`198.51.100.${30 + i}`))).toBe(0);
    // And the client it named, behind the trusted proxy, is served: nobody spends another's count.
    expect((await send(api, 'GET', '/v1/jobs', { token: system.token, headers: named(0), localAddress: PROXY })).status).toBe(200);
  });

  it("failed authentications per credential: one token refused from two addresses, on both nodes, is 429 with Retry-After from any address, before it is looked at; another credential is still 401; after the window the token works", async () => {
    // A user's token, refused (401) while its user is disabled: the same answer as a token nobody has.
    expect((await system.client.request('POST', '/v1/users', { name: 'carol', role: 'viewer' })).status).toBe(201);
    const created = await system.client.request('POST', '/v1/tokens', { name: 'carol-cli', user: 'carol' });
    expect(created.status, created.text).toBe(201);
    const carol = created.body.token as string;
    expect((await send(api, 'GET', '/v1/me', { token: carol })).status).toBe(200);
    expect((await system.client.request('PATCH', '/v1/users/carol', { disabled: true })).status).toBe(200);

    // Five failures (the limit) spread over two addresses (3 + 2, neither at its own limit) and both nodes: 401 each.
    const [a, b, c] = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
    const statuses = [];
    for (const [base, from] of [[api, a], [api2, b], [api, b], [api2, a], [api, a]] as const) statuses.push((await send(base, 'GET', '/v1/jobs', { token: carol, localAddress: from })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const invalid = (await send(api, 'GET', '/v1/jobs', { token: wrongToken(), localAddress: c })).body;

    // The sixth, from b on node 2: 429, saying it is the credential; then from a third address, on REST and a stream, on node 1.
    const retryAfter = expectRateLimited(await send(api2, 'GET', '/v1/jobs', { token: carol, localAddress: b }), 15);
    const blockedAt = Date.now();
    expect((await send(api2, 'GET', '/v1/jobs', { token: carol, localAddress: b })).body.error.message).toMatch(/too many failed authentications with this credential/);
    expectRateLimited(await send(api, 'GET', '/v1/jobs', { token: carol, localAddress: c }), 15);
    const stream = await upgrade(`${api}/v1/jobs/${jobId}/stream`, { token: carol, localAddress: c });
    expect(stream.kind).toBe('refused');
    if (stream.kind === 'refused') expectRateLimited(stream, 15);

    // Another credential from the same addresses is answered as before: a wrong one 401 (the same body as any refusal), the right one 200.
    for (const from of [a, b]) {
      const other = await send(api2, 'GET', '/v1/jobs', { token: wrongToken(), localAddress: from });
      expect(other.status, other.text).toBe(401);
      expect(other.body).toEqual(invalid);
      expect((await send(api, 'GET', '/v1/jobs', { token: system.token, localAddress: from })).status).toBe(200);
    }

    // Carol enabled again: her token is still 429 until the window ends (a blocked credential is not looked at), then works on both nodes.
    expect((await system.client.request('PATCH', '/v1/users/carol', { disabled: false })).status).toBe(200);
    expectRateLimited(await send(api, 'GET', '/v1/me', { token: carol, localAddress: c }), 15);
    await waitFor('the credential\'s block to end', async () => (await send(api2, 'GET', '/v1/me', { token: carol, localAddress: c })).status === 200, (retryAfter + 30) * 1000, 250);
    expect(Date.now() - blockedAt).toBeGreaterThanOrEqual((retryAfter - 1) * 1000);
    await waitFor('node 1 too', async () => (await send(api, 'GET', '/v1/me', { token: carol, localAddress: a })).status === 200, 30_000, 250);
  });

  it('a refused enrolment token is a failed authentication too: past the limit POST /v1/agent/enrol is 429 and creates no agent', async () => {
    const from = '127.0.0.7';
    const enrol = () => send(api, 'POST', '/v1/agent/enrol', { token: 'vmo_enr_unknownunknownunknownunknown', body: JSON.stringify({ name: 'guessed' }), localAddress: from });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await enrol()).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expectRateLimited(await enrol(), 15);
    expect((await system.client.request('GET', '/v1/agents')).body.items.map((a: { name: string }) => a.name)).not.toContain('guessed');
  });

  it('submissions: VMO_SUBMIT_RATE holds per credential across both nodes, jobs and runs together; past it 429 with Retry-After and nothing is created; another credential and reads are unaffected', async () => {
    const submitJob = (base: string, token: string) => send(base, 'POST', '/v1/jobs', { token, body: JSON.stringify({ command: 'echo limited' }) });
    const submitRun = (base: string, token: string) => send(base, 'POST', '/v1/runs', { token, body: JSON.stringify({ command: 'true', targets: { hosts: ['box@origin'] } }) });
    const accepted = [await submitJob(api, token2), await submitJob(api2, token2), await submitJob(api, token2), await submitRun(api2, token2), await submitJob(api2, token2), await submitRun(api, token2)];
    expect(accepted.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
    const before = await jobCount();
    expectRateLimited(await submitJob(api, token2), 15);
    expectRateLimited(await submitJob(api2, token2), 15);
    expectRateLimited(await submitRun(api2, token2), 15);
    expect(await jobCount()).toBe(before);
    // Another credential has its own budget; reading is not limited.
    expect((await submitJob(api2, system.token)).status).toBe(201);
    expect((await send(api, 'GET', '/v1/jobs', { token: token2 })).status).toBe(200);
  });
});
