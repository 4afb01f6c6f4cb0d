/**
 * Issue 8 #12 and #13: no request body, env value or header value ever reaches a log, and a client
 * that drops its upload costs one debug line, not an error. The canary goes everywhere a secret
 * goes (job env on local and agent jobs, header values, bodies that fail to parse, bad input, an
 * oversized body, an aborted upload, the WebSocket upgrades), the services log at debug, and none
 * of their output may contain it. The test kit's global teardown searches every service log of the
 * run for the same canary.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_SECRET, openWebSocket, recordingFetch, ServiceProcess, TestSystem, waitFor } from '@vmo/testkit';

const CANARY = CANARY_SECRET;

describe('secrets stay out of the logs', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'canary', env: { VMO_LOG_LEVEL: 'debug' } });
    agentId = (await system.startAgent('canary-agent', { env: { VMO_LOG_LEVEL: 'debug' } })).id;
  });
  afterAll(() => system?.stop());

  const post = (body: string, headers: Record<string, string> = {}) => system.client.request('POST', '/v1/jobs', body, headers);

  it('carries the canary through local and agent jobs (env values), where the command sees it', async () => {
    for (const target of [{ type: 'local' }, { type: 'agent', agent: agentId }]) {
      const job = await system.client.submit({ command: 'printf %s "$S"', env: { S: CANARY, OTHER: `x${CANARY}x` }, target });
      expect((await system.client.waitForEnd(job.id)).status).toBe('succeeded');
      expect((await system.client.logs(job.id)).toString()).toBe(CANARY);
    }
  });

  it('a body that fails to parse is a 400 that quotes none of it', async () => {
    for (const body of [`{"command":"x","env":{"S":${CANARY}}}`, `${CANARY}`, `{"command":"x","env":{"S":"${CANARY}"`, `{"command":"x","env":{"S":"${CANARY}\\q"}}`]) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(res.body.error.code).toBe('invalid_json');
      expect(res.text).not.toContain(CANARY);
      expect(res.text).not.toContain('canary');
    }
  });

  it('bad input carrying the canary is a 400 naming the field, not quoting the value', async () => {
    const cases: [unknown, RegExp][] = [
      [{ command: 'x', env: { '1BAD': CANARY } }, /^env\.1BAD: /],
      [{ command: 'x', env: { S: `${CANARY}\u0000` } }, /^env\.S: /],
      [{ command: 'x', env: { S: CANARY.repeat(1000) } }, /^env\.S: /],
      [{ command: 'x', env: { S: CANARY }, timeoutMs: 'soon' }, /^timeoutMs: /],
      [{ command: 'x', env: { S: CANARY }, surprise: CANARY }, /surprise/],
      [{ command: 'x', labels: { team: CANARY.repeat(10) } }, /^labels\.team: /],
    ];
    for (const [body, message] of cases) {
      const res = await system.client.request('POST', '/v1/jobs', body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.message).toMatch(message);
      expect(res.text).not.toContain(CANARY);
    }
  });

  it('#13: a job cannot set VMO_JOB_ID (400 naming env.VMO_JOB_ID)', async () => {
    const res = await system.client.request('POST', '/v1/jobs', { command: 'echo $VMO_JOB_ID', env: { VMO_JOB_ID: 'job_someoneelse0000000' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', message: 'env.VMO_JOB_ID: VMO_JOB_ID is set by vmo for every job and cannot be given' });
  });

  it('header values with the canary: a bad bearer token, custom headers, cookies, WebSocket upgrades', async () => {
    const url = system.apiUrls[0]!;
    expect((await recordingFetch()(`${url}/v1/jobs`, { headers: { authorization: `Bearer ${CANARY}` } })).status).toBe(401);
    expect((await recordingFetch()(`${url}/v1/jobs`, { headers: { authorization: `Bearer vmo_adm_${CANARY}` } })).status).toBe(401);
    expect((await system.client.request('GET', '/v1/jobs', undefined, { 'x-api-key': CANARY, cookie: `session=${CANARY}`, 'user-agent': CANARY })).status).toBe(200);
    const job = await system.client.submit({ command: 'true' });
    for (const headers of [{ authorization: `Bearer ${CANARY}` }, { authorization: `Bearer vmo_agt_${CANARY}` }]) {
      const stream = await openWebSocket(`${url}/v1/jobs/${job.id}/stream`, { headers });
      expect(stream.kind).toBe('refused');
      const agent = await openWebSocket(`${url}/v1/agent/connect`, { headers });
      expect(agent.kind).toBe('refused');
    }
  });

  it('#13: an upload the client abandons is one debug line, not an error', async () => {
    const url = new URL(system.apiUrls[0]!);
    const api = system.apis[0]!;
    const before = api.output.length;
    const ABORTS = 5;
    for (let i = 0; i < ABORTS; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${system.token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n` +
              `{"command":"x","env":{"S":"${CANARY}`,
          );
          // Give the server the headers and the start of the body, then go away.
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 200);
        });
        socket.on('error', reject);
      });
    }
    // Each abandoned upload: the debug line saying so, and the access log's `request` line; never a warning or an error.
    const lines = () => api.output.slice(before).split('\n').filter((l) => l.includes('"path":"/v1/jobs"')).map((l) => JSON.parse(l) as { level: number; msg: string });
    const abandoned = () => lines().filter((l) => l.msg === 'client closed the connection before the request body was read');
    await waitFor('a line per abandoned upload', () => (abandoned().length >= ABORTS ? true : undefined), 20_000);
    for (const line of abandoned()) expect(line).toMatchObject({ level: 20 });
    expect(lines().filter((l) => l.level >= 40)).toEqual([]);
    expect(new Set(lines().map((l) => l.msg))).toEqual(new Set(['client closed the connection before the request body was read', 'request']));
  });

  // Last of the requests: the server answers 413 before the body is in and closes the socket,
  // which a pooled fetch connection would otherwise trip over in the next test.
  it('an oversized body with the canary is a 413', async () => {
    const res = await post(JSON.stringify({ command: 'x', env: { S: CANARY.repeat(40_000) } }));
    expect(res.status).toBe(413);
  });

  it('after all that, no service printed the canary', async () => {
    // Stop the processes so everything they printed has been read.
    await system.stop();
    const processes = [...system.apis, ...system.workers, ...system.agents];
    expect(processes.length).toBe(3);
    for (const p of processes) {
      expect(p.output.length, `${p.role} printed nothing?`).toBeGreaterThan(0);
      const hits = p.output.split('\n').filter((l) => l.includes(CANARY) || l.includes('canary'));
      expect(hits, `${p.role} ${p.pid} logged the canary`).toEqual([]);
    }
  });
});

describe('#14: a bad VMO_ADMIN_TOKEN is named, never echoed', () => {
  it.each([
    ['too short', CANARY.slice(0, 20), /VMO_ADMIN_TOKEN: must be at least 32 characters/],
    ['a pattern', `${CANARY.slice(0, 12)}`.repeat(4), /VMO_ADMIN_TOKEN: must not be a short string repeated/],
  ])('%s: the API stops with exit 78 and one line', async (_what, token, message) => {
    const api = new ServiceProcess('api', { VMO_ADMIN_TOKEN: token, VMO_PORT: '0', VMO_HOST: '127.0.0.1' });
    const exit = await api.exited;
    expect(exit.code).toBe(78);
    expect(api.output).toMatch(message);
    expect(api.output.trim().split('\n')).toHaveLength(1);
    expect(api.output).not.toContain(token);
  });
});
