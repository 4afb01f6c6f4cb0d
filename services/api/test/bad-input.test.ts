/**
 * Issue 2, "Bad input gets a clear 4xx and nothing else changes": every bad request is answered
 * with the right status and `{"error":{"code","message"}}` naming the field, no row changes, no
 * 500, no error log; malformed agent frames close the socket with a policy code and the server
 * keeps serving.
 *
 * REST cases run in-process with `app.request()`; what needs real sockets (chunked bodies, the
 * WebSocket upgrade, agent frames) runs against a real API process.
 */
import { connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import postgres from 'postgres';
import type WebSocket from 'ws';
import { registerAgent } from '@vmo/shared/agents';
import { commonSchema } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';
import { encodeOutputFrame, MAX_FRAME_BYTES } from '@vmo/shared/protocol';
import { createTestDatabase, createTestPrefix, openWebSocket, TEST_REDIS_URL, TestSystem, waitFor, type TestDatabase } from '@vmo/testkit';
import { createApp } from '../src/app.ts';
import { ensureAdminToken } from '../src/auth/admin-token.ts';
import { TokenStore } from '../src/auth/token-store.ts';
import { MAX_BODY_BYTES } from '../src/env.ts';

const ADMIN = 'vmo_adm_badinput_0123456789abcdef';
const MAX_COMMAND = 64 * 1024;
const jobShapedId = 'job_0123456789abcdefghij';

interface Reply {
  status: number;
  body: any;
  text: string;
}

/** Rows and queue entries a bad request must leave alone. */
async function snapshot(sql: postgres.Sql, cp?: ControlPlane) {
  const [row] = await sql<{ jobs: number; agents: number; output: number; tokens: number; jobs_digest: string; agents_digest: string }[]>`
    select (select count(*)::int from jobs) as jobs,
           (select count(*)::int from agents) as agents,
           (select count(*)::int from job_output) as output,
           (select count(*)::int from api_tokens) as tokens,
           (select coalesce(md5(string_agg(j::text, ',' order by j.id)), '') from jobs j) as jobs_digest,
           (select coalesce(md5(string_agg(a::text, ',' order by a.id)), '') from agents a) as agents_digest`;
  return { ...row, queue: cp ? await cp.queue.getJobCounts() : undefined };
}

function expectError(res: Reply, status: number, code: string, message?: RegExp) {
  expect({ status: res.status, code: res.body?.error?.code }, res.text).toEqual({ status, code });
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('bad input over REST (in-process)', () => {
  let testDb: TestDatabase;
  let redisPrefix: ReturnType<typeof createTestPrefix>;
  let cp: ControlPlane & { close(): Promise<void> };
  let app: ReturnType<typeof createApp>;
  let agentToken: string;
  let agentId: string;
  let existingJobId: string;
  const logLines: { level: number; msg: string }[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase('bad_input');
    redisPrefix = createTestPrefix('bad_input');
    const config = commonSchema.parse({ VMO_DATABASE_URL: testDb.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: redisPrefix.prefix, VMO_LOG_LEVEL: 'silent' });
    const log = pino({ level: 'info' }, new Writable({ write: (line, _enc, done) => (logLines.push(JSON.parse(line.toString())), done()) }));
    cp = await openControlPlane(config, log);
    await ensureAdminToken(cp.database, ADMIN);
    app = createApp({ cp, tokens: new TokenStore(cp.database), log });
    const agent = await registerAgent(cp, { name: 'vm-1', labels: {} });
    agentToken = agent.token;
    agentId = agent.id;
    const created = await call('POST', '/v1/jobs', { body: JSON.stringify({ command: 'echo existing' }) });
    expect(created.status, created.text).toBe(201);
    existingJobId = created.body.id;
  });

  afterAll(async () => {
    await cp?.close();
    await testDb?.drop();
    await redisPrefix?.cleanup();
  });

  async function call(method: string, path: string, opts: { body?: string | ReadableStream<Uint8Array>; token?: string | null; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? ADMIN}`;
    const res = await app.request(new Request(`http://localhost${path}`, { method, body: opts.body, headers, duplex: 'half' } as RequestInit));
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text };
  }

  /** Send a bad request; it must be refused as expected and change nothing. */
  async function refused(method: string, path: string, opts: Parameters<typeof call>[2], status: number, code: string, message?: RegExp) {
    const before = await snapshot(cp.database.sql, cp);
    const res = await call(method, path, opts);
    expectError(res, status, code, message);
    expect(await snapshot(cp.database.sql, cp)).toEqual(before);
    return res;
  }

  const postJob = (body: unknown) => ({ body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  describe('POST /v1/jobs', () => {
    it.each([
      ['a body that is not JSON', 'command=ls', /not valid JSON/],
      ['truncated JSON', '{"command": "ls"', /not valid JSON/],
      ['an empty body', '', /must be a JSON object/],
      ['a blank body', '  \n', /must be a JSON object/],
      ['a JSON array', '[{"command":"ls"}]', /must be a JSON object/],
      ['a JSON string', '"ls"', /must be a JSON object/],
      ['a JSON number', '42', /must be a JSON object/],
      ['JSON null', 'null', /must be a JSON object/],
    ])('refuses %s with 400 invalid_json', async (_what, body, message) => {
      await refused('POST', '/v1/jobs', postJob(body), 400, 'invalid_json', message);
    });

    it.each([
      ['a missing command', {}, /^command: is required/],
      ['a null command', { command: null }, /^command: /],
      ['a numeric command', { command: 42 }, /^command: is required and must be a string/],
      ['an argv-style command', { command: ['ls', '-l'] }, /^command: /],
      ['an empty command', { command: '' }, /^command: must not be empty/],
      ['a blank command', { command: '   \t\n' }, /^command: must not be blank/],
      ['a command with a NUL byte', { command: 'echo a\u0000b' }, /^command: must not contain NUL/],
      ['a command over 64 KiB', { command: 'x'.repeat(MAX_COMMAND + 1) }, /^command: must be at most 65536 bytes/],
      ['a command over 64 KiB in UTF-8 bytes', { command: '€'.repeat(MAX_COMMAND / 3 + 1) }, /^command: must be at most 65536 bytes/],
      ['a target that is a string', { command: 'ls', target: 'local' }, /^target/],
      ['an unknown target type', { command: 'ls', target: { type: 'docker' } }, /^target\.type: must be/],
      ['a target without a type', { command: 'ls', target: { agent: 'vm-1' } }, /^target\.type: /],
      ['an agent target without an agent', { command: 'ls', target: { type: 'agent' } }, /^target\.agent: /],
      ['an agent target with an empty agent', { command: 'ls', target: { type: 'agent', agent: '' } }, /^target\.agent: must name an agent/],
      ['a local target with a stray field', { command: 'ls', target: { type: 'local', host: 'x' } }, /^target: .*host/],
      ['a negative timeout', { command: 'ls', timeoutMs: -5 }, /^timeoutMs: must be at least 1/],
      ['a zero timeout', { command: 'ls', timeoutMs: 0 }, /^timeoutMs: must be at least 1/],
      ['a fractional timeout', { command: 'ls', timeoutMs: 1.5 }, /^timeoutMs: must be a whole number/],
      ['an absurd timeout', { command: 'ls', timeoutMs: 1e300 }, /^timeoutMs: /],
      ['a timeout over 7 days', { command: 'ls', timeoutMs: 7 * 24 * 3_600_000 + 1 }, /^timeoutMs: must be at most/],
      ['a timeout as a string', { command: 'ls', timeoutMs: '1000' }, /^timeoutMs: must be a number/],
      ['env as a list', { command: 'ls', env: ['A=1'] }, /^env: /],
      ['an env name starting with a digit', { command: 'ls', env: { '1BAD': 'x' } }, /^env\.1BAD: variable names are letters/],
      ['an env name with a dash', { command: 'ls', env: { 'MY-VAR': 'x' } }, /^env\.MY-VAR: variable names/],
      ['an env name with "="', { command: 'ls', env: { 'A=B': 'x' } }, /^env\.A=B: variable names/],
      ['an empty env name', { command: 'ls', env: { '': 'x' } }, /^env\.: variable names/],
      ['a numeric env value', { command: 'ls', env: { A: 1 } }, /^env\.A: /],
      ['an env value with a NUL byte', { command: 'ls', env: { A: 'a\u0000' } }, /^env\.A: values must not contain NUL/],
      ['secretEnv as a list', { command: 'ls', secretEnv: ['A=secret'] }, /^secretEnv: /],
      ['a secretEnv name with a dash', { command: 'ls', secretEnv: { 'MY-VAR': 'secret' } }, /^secretEnv\.MY-VAR: variable names/],
      ['a secretEnv value under 4 bytes', { command: 'ls', secretEnv: { A: 'abc' } }, /^secretEnv\.A: values must be at least 4 bytes/],
      ['a numeric secretEnv value', { command: 'ls', secretEnv: { A: 12345 } }, /^secretEnv\.A: values must be strings/],
      ['a secretEnv name also in env', { command: 'ls', env: { A: 'x' }, secretEnv: { A: 'secret' } }, /^secretEnv\.A: is also in env/],
      ['an empty cwd', { command: 'ls', cwd: '' }, /^cwd: /],
      ['a numeric cwd', { command: 'ls', cwd: 7 }, /^cwd: /],
      ['a bad label key', { command: 'ls', labels: { 'a b': 'x' } }, /^labels\.a b: label keys/],
      ['an unknown field', { command: 'ls', timeout: 5000 }, /timeout/],
      ['a misspelt field', { command: 'ls', Env: {} }, /Env/],
    ])('refuses %s with 400 validation_failed naming the field', async (_what, body, message) => {
      const res = await refused('POST', '/v1/jobs', postJob(body), 400, 'validation_failed', message);
      expect(res.body.error.details?.field).toBeTruthy();
    });

    it('accepts a command of exactly 64 KiB (bytes, not characters)', async () => {
      for (const command of ['x'.repeat(MAX_COMMAND), 'é'.repeat(MAX_COMMAND / 2)]) {
        const res = await call('POST', '/v1/jobs', postJob({ command }));
        expect(res.status, res.text).toBe(201);
        const [row] = await cp.database.sql`select command from jobs where id = ${res.body.id}`;
        expect(row!.command).toBe(command);
      }
    });

    it('refuses secretEnv with 422 secrets_disabled when the control plane has no VMO_SECRET_KEY', async () => {
      const res = await refused('POST', '/v1/jobs', postJob({ command: 'ls', secretEnv: { TOKEN: 'not-to-be-stored' } }), 422, 'secrets_disabled', /^secretEnv: .*VMO_SECRET_KEY/);
      expect(res.text).not.toContain('not-to-be-stored');
      // An empty secretEnv is no secret: accepted like no secretEnv at all.
      const plain = await call('POST', '/v1/jobs', postJob({ command: 'ls', secretEnv: {} }));
      expect(plain.status, plain.text).toBe(201);
      expect(plain.body.secretEnvNames).toEqual([]);
    });

    it('refuses an unknown agent with 422 unknown_agent naming it', async () => {
      await refused('POST', '/v1/jobs', postJob({ command: 'ls', target: { type: 'agent', agent: 'no-such-vm' } }), 422, 'unknown_agent', /no-such-vm/);
      await refused('POST', '/v1/jobs', postJob({ command: 'ls', target: { type: 'agent', agent: 'agt_0123456789abcdefghij' } }), 422, 'unknown_agent', /agt_0123456789abcdefghij/);
    });

    it('refuses a revoked agent as unknown', async () => {
      const gone = await registerAgent(cp, { name: 'vm-gone', labels: {} });
      expect((await call('DELETE', `/v1/agents/${gone.id}`)).status).toBe(204);
      await refused('POST', '/v1/jobs', postJob({ command: 'ls', target: { type: 'agent', agent: 'vm-gone' } }), 422, 'unknown_agent', /vm-gone/);
    });

    it('refuses a malformed Idempotency-Key naming the header', async () => {
      for (const key of ['has space', 'k'.repeat(256)]) {
        await refused('POST', '/v1/jobs', { ...postJob({ command: 'ls' }), headers: { 'content-type': 'application/json', 'idempotency-key': key } }, 400, 'validation_failed', /Idempotency-Key/);
      }
    });
  });

  describe('unknown ids', () => {
    const ids = [
      ['a job-shaped id', jobShapedId],
      ['an id that is not job-shaped', 'nope'],
      ['an agent id', 'agt_0123456789abcdefghij'],
      ['an id with upper case', 'job_0123456789ABCDEFGHIJ'],
      ['a very long id', 'job_' + 'a'.repeat(5000)],
      ['an id with encoded slashes', '..%2F..%2Fetc%2Fpasswd'],
      ['an id with broken percent-encoding', '%E0%A4%A'],
    ] as const;

    it.each(ids)('GET /v1/jobs/{%s} is 404 not_found', async (_what, id) => {
      await refused('GET', `/v1/jobs/${id}`, {}, 404, 'not_found');
    });
    it.each(ids)('POST /v1/jobs/{%s}/cancel is 404 not_found', async (_what, id) => {
      await refused('POST', `/v1/jobs/${id}/cancel`, {}, 404, 'not_found');
    });
    it.each(ids)('GET /v1/jobs/{%s}/logs is 404 not_found', async (_what, id) => {
      await refused('GET', `/v1/jobs/${id}/logs`, {}, 404, 'not_found');
    });

    it('names the id that was not found', async () => {
      await refused('GET', `/v1/jobs/${jobShapedId}`, {}, 404, 'not_found', new RegExp(jobShapedId));
    });

    it.each([
      ['GET', '/v1/agents/agt_0123456789abcdefghij'],
      ['GET', '/v1/agents/no-such-agent'],
      ['DELETE', '/v1/agents/agt_0123456789abcdefghij'],
      ['DELETE', '/v1/agents/no-such-agent'],
    ])('%s %s is 404 not_found', async (method, path) => {
      await refused(method, path, {}, 404, 'not_found');
    });

    it('answers an unknown route with 404 in the error format', async () => {
      await refused('GET', '/v1/nothing-here', {}, 404, 'not_found');
      await refused('POST', '/nothing-here', {}, 404, 'not_found');
    });
  });

  describe('cancel of an existing job with a bad body', () => {
    it.each([
      ['not JSON', 'soon', 'invalid_json', /JSON/],
      ['a negative grace', '{"graceMs":-1}', 'validation_failed', /^graceMs: /],
      ['a fractional grace', '{"graceMs":0.5}', 'validation_failed', /^graceMs: /],
      ['a grace over an hour', '{"graceMs":3600001}', 'validation_failed', /^graceMs: /],
      ['an unknown field', '{"grace":5}', 'validation_failed', /grace/],
      ['a JSON array', '[]', 'invalid_json', /JSON object/],
    ])('refuses %s with 400 and leaves the job alone', async (_what, body, code, message) => {
      await refused('POST', `/v1/jobs/${existingJobId}/cancel`, { body }, 400, code, message);
      const [row] = await cp.database.sql`select status, cancel_reason from jobs where id = ${existingJobId}`;
      expect(row).toEqual({ status: 'queued', cancel_reason: null });
    });
  });

  /**
   * Issue 8 #7: text Postgres cannot store (U+0000, an unpaired surrogate) anywhere in a request is
   * a 400 naming the field, never a 500, and never reaches Postgres. JSON bodies carry them as
   * `\u0000` / `\ud800` escapes; paths and queries as `%00` (Hono decodes it). An encoded
   * surrogate (`%ED%A0%80`) or a broken escape is not decoded by Hono: plain ASCII, an unknown name.
   */
  describe('text Postgres cannot store', () => {
    const NUL = 'a\u0000b';
    const LONE = 'a\ud800b';
    const LONE_LOW = '\udc00';
    const nulMsg = /must not contain NUL bytes/;
    const loneMsg = /must be well-formed Unicode/;

    it.each([
      ['a command with an unpaired surrogate', { command: `echo ${LONE}` }, 'command', loneMsg],
      ['a command with a lone low surrogate', { command: `echo ${LONE_LOW}` }, 'command', loneMsg],
      ['an env value with an unpaired surrogate', { command: 'ls', env: { A: LONE } }, 'env.A', /^env\.A: values must be well-formed Unicode/],
      ['an env name with an unpaired surrogate', { command: 'ls', env: { [LONE]: 'x' } }, `env.${LONE}`, /variable names/],
      ['a cwd with a NUL byte', { command: 'ls', cwd: `/tmp/${NUL}` }, 'cwd', nulMsg],
      ['a cwd with an unpaired surrogate', { command: 'ls', cwd: `/tmp/${LONE}` }, 'cwd', loneMsg],
      ['a label value with a NUL byte', { command: 'ls', labels: { team: NUL } }, 'labels.team', /^labels\.team: label values must not contain NUL bytes/],
      ['a label value with an unpaired surrogate', { command: 'ls', labels: { team: LONE } }, 'labels.team', /^labels\.team: label values must be well-formed Unicode/],
      ['a label key with a NUL byte', { command: 'ls', labels: { [NUL]: 'x' } }, `labels.${NUL}`, /label keys/],
      ['an agent target with a NUL byte', { command: 'ls', target: { type: 'agent', agent: NUL } }, 'target.agent', nulMsg],
      ['an agent target with an unpaired surrogate', { command: 'ls', target: { type: 'agent', agent: LONE } }, 'target.agent', loneMsg],
      ['an ssh target with a NUL byte', { command: 'ls', target: { type: 'ssh', host: NUL } }, 'target.host', nulMsg],
    ])('POST /v1/jobs: refuses %s with 400 naming the field', async (_what, body, field, message) => {
      const res = await refused('POST', '/v1/jobs', postJob(body), 400, 'validation_failed', message);
      expect(res.body.error.details?.field).toBe(field);
    });

    it.each([
      ['a label value with a NUL byte', { name: 'vm-nul', labels: { zone: NUL } }, 'labels.zone', nulMsg],
      ['a label value with an unpaired surrogate', { name: 'vm-nul', labels: { zone: LONE } }, 'labels.zone', loneMsg],
      ['a name with a NUL byte', { name: NUL }, 'name', /^name: must be 1-63/],
      ['a name with an unpaired surrogate', { name: LONE }, 'name', /^name: must be 1-63/],
    ])('POST /v1/agents: refuses %s with 400 naming the field', async (_what, body, field, message) => {
      const res = await refused('POST', '/v1/agents', { body: JSON.stringify(body) }, 400, 'validation_failed', message);
      expect(res.body.error.details?.field).toBe(field);
    });

    const host = { name: 'h-nul', host: '127.0.0.1', user: 'u' };
    it.each([
      ['a user with a NUL byte', { ...host, user: NUL }, 'user', nulMsg],
      ['a user with an unpaired surrogate', { ...host, user: LONE }, 'user', loneMsg],
      ['a description with an unpaired surrogate', { ...host, description: LONE }, 'description', loneMsg],
      ['an identity file with an unpaired surrogate', { ...host, identityFile: `/k/${LONE}` }, 'identityFile', loneMsg],
      ['a proxy jump with a NUL byte', { ...host, proxyJump: NUL }, 'proxyJump', nulMsg],
      ['a proxy jump with an unpaired surrogate', { ...host, proxyJump: LONE }, 'proxyJump', loneMsg],
      ['a label value with an unpaired surrogate', { ...host, labels: { zone: LONE } }, 'labels.zone', loneMsg],
    ])('POST /v1/hosts: refuses %s with 400 naming the field', async (_what, body, field, message) => {
      const res = await refused('POST', '/v1/hosts', { body: JSON.stringify(body) }, 400, 'validation_failed', message);
      expect(res.body.error.details?.field).toBe(field);
    });

    it('POST /v1/hosts/import: refuses a config with an unpaired surrogate', async () => {
      const res = await refused('POST', '/v1/hosts/import', { body: JSON.stringify({ config: `Host a\n  User ${LONE}\n` }) }, 400, 'validation_failed', loneMsg);
      expect(res.body.error.details?.field).toBe('config');
    });

    const project = { alias: 'p-bad', dir: '/srv/app', target: { type: 'local' } };
    it.each([
      ['an alias with a NUL byte', { ...project, alias: NUL }, 'alias', /^alias: must be 1-63/],
      ['a dir with a NUL byte', { ...project, dir: `/srv/${NUL}` }, 'dir', /^dir: must be an absolute path/],
      ['a relative dir', { ...project, dir: 'srv/app' }, 'dir', /^dir: must be an absolute path/],
      ['a list command with an unpaired surrogate', { ...project, listCommand: `ls ${LONE}` }, 'listCommand', loneMsg],
      ['an ssh target with a NUL byte', { ...project, target: { type: 'ssh', host: NUL } }, 'target.host', nulMsg],
    ])('POST /v1/projects: refuses %s with 400 naming the field', async (_what, body, field, message) => {
      const res = await refused('POST', '/v1/projects', { body: JSON.stringify(body) }, 400, 'validation_failed', message);
      expect(res.body.error.details?.field).toBe(field);
    });

    it('POST /v1/projects/import: refuses a registry with an unpaired surrogate', async () => {
      const res = await refused('POST', '/v1/projects/import', { body: JSON.stringify({ target: { type: 'local' }, registry: `a=/x/${LONE}\n` }) }, 400, 'validation_failed', loneMsg);
      expect(res.body.error.details?.field).toBe('registry');
    });

    it('POST /v1/projects/{alias}/targets/{target}/run: args the contract takes (17 values of 4000 bytes) past a job\'s command budget are 400 naming args, no discovery, no job, not a 500', async () => {
      const created = await call('POST', '/v1/projects', { body: JSON.stringify({ alias: 'p-budget', dir: '/srv/app', target: { type: 'local' } }) });
      expect(created.status, created.text).toBe(201);
      const args = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`V${i}`, 'x'.repeat(4000)]));
      const res = await refused('POST', '/v1/projects/p-budget/targets/build/run', { body: JSON.stringify({ args }) }, 400, 'validation_failed', /^args: the make command would be \d+ bytes/);
      expect(res.body.error.details?.field).toBe('args');
    });

    it.each([
      ['GET', '/v1/projects/a%00b', 'alias'],
      ['DELETE', '/v1/projects/a%00b', 'alias'],
      ['GET', '/v1/projects/a%00b/targets', 'alias'],
      ['POST', '/v1/projects/web/targets/a%00b/run', 'target'],
    ])('%s %s (NUL in the path) is 400 naming the parameter', async (method, path, field) => {
      const res = await refused(method, path, {}, 400, 'validation_failed', new RegExp(`^${field}: must not contain NUL bytes`));
      expect(res.body.error.details?.field).toBe(field);
    });

    it.each([
      ['GET', '/v1/agents/a%00b'],
      ['DELETE', '/v1/agents/a%00b'],
      ['GET', '/v1/jobs/a%00b'],
      ['GET', '/v1/jobs/job_%00'],
      ['POST', '/v1/jobs/a%00b/cancel'],
      ['GET', '/v1/jobs/a%00b/logs'],
      ['GET', '/v1/hosts/a%00b'],
      ['PATCH', '/v1/hosts/a%00b'],
      ['DELETE', '/v1/hosts/a%00b'],
    ])('%s %s (NUL in the path) is 400 naming the id', async (method, path) => {
      const res = await refused(method, path, {}, 400, 'validation_failed', /^id: must not contain NUL bytes/);
      expect(res.body.error.details?.field).toBe('id');
    });

    it.each([
      ['an encoded surrogate', '%ED%A0%80'],
      ['a broken escape', '%E0%A4%A'],
    ])('GET /v1/agents/{%s} is an unknown agent (404): Hono keeps it undecoded', async (_what, ref) => {
      await refused('GET', `/v1/agents/${ref}`, {}, 404, 'not_found');
      await refused('DELETE', `/v1/agents/${ref}`, {}, 404, 'not_found');
    });

    it.each([
      ['/v1/jobs?agent=a%00b', 'agent', nulMsg],
      ['/v1/agents?cursor=a%00b', 'cursor', nulMsg],
      ['/v1/hosts?environment=a%00b', 'environment', nulMsg],
    ])('GET %s is 400 naming the parameter', async (path, field, message) => {
      const res = await refused('GET', path, {}, 400, 'validation_failed', message);
      expect(res.body.error.details?.field).toBe(field);
    });

    it('still accepts well-formed text outside the BMP (a surrogate pair) and stores it as sent', async () => {
      const res = await call('POST', '/v1/jobs', postJob({ command: 'echo 😀', env: { A: '😀' }, labels: { team: 'ops😀' } }));
      expect(res.status, res.text).toBe(201);
      const [row] = await cp.database.sql`select command, env, labels from jobs where id = ${res.body.id}`;
      expect(row).toEqual({ command: 'echo 😀', env: { A: '😀' }, labels: { team: 'ops😀' } });
    });
  });

  describe('bad query parameters', () => {
    it.each([
      ['?limit=0', /^limit: /],
      ['?limit=-1', /^limit: /],
      ['?limit=abc', /^limit: /],
      ['?limit=1.5', /^limit: /],
      ['?limit=501', /^limit: /],
      ['?limit=', /^limit: /],
      ['?status=bogus', /^status: /],
      ['?status=QUEUED', /^status: /],
      ['?cursor=x', /^cursor: must be a nextCursor/],
      ['?cursor=agt_0123456789abcdefghij', /^cursor: /],
      ['?sort=asc', /sort/],
      ['?Limit=5', /Limit/],
      ['?status=failed,bogus', /^status: must be one or more of queued, running/],
      ['?status=failed,', /^status: must be one or more of/],
      ['?status=', /^status: /],
      ['?status=failed&status=lost', /^status: /],
      ['?limit=1&limit=2', /^limit: /],
      ['?label=novalue', /^label: must be key=value/],
      ['?label=%3Dv', /^label: must be key=value/],
      ['?label=a%3D1&label=-b%3D2', /^label: must be key=value/],
      ['?label=a%3D%00', /^label: must not contain NUL/],
      ['?labels=a%20in', /^labels: at position 4: expected "\(", found the end$/],
      ['?labels=x%3D%3Da%3D%3Db', /^labels: at position 4: expected "," or the end, found "=="$/],
      ['?labels=a%3E1', /^labels: at position 1: /],
      ['?target=', /^target: /],
    ])('GET /v1/jobs%s is 400 validation_failed naming the parameter', async (query, message) => {
      await refused('GET', `/v1/jobs${query}`, {}, 400, 'validation_failed', message);
    });

    it.each([
      ['?agent=nope', 'unknown_agent', /^agent: no agent with id or name "nope"/],
      ['?agent=agt_0123456789abcdefghij', 'unknown_agent', /^agent: /],
      ['?target=nope', 'unknown_target', /^target: no agent or host with id or name "nope"/],
      ['?target=nope%40prod', 'unknown_target', /^target: /],
    ])('GET /v1/jobs%s names nobody: 422 %s, not an empty page', async (query, code, message) => {
      await refused('GET', `/v1/jobs${query}`, {}, 422, code, message);
    });

    it.each([
      ['?after=abc', /^after: /],
      ['?after=-2', /^after: /],
      ['?after=1.5', /^after: /],
      ['?after=99999999999', /^after: /],
      ['?stream=both', /^stream: /],
      ['?format=xml', /^format: /],
      ['?follow=true', /follow/],
    ])('GET /v1/jobs/{id}/logs%s is 400 validation_failed naming the parameter', async (query, message) => {
      await refused('GET', `/v1/jobs/${existingJobId}/logs${query}`, {}, 400, 'validation_failed', message);
    });

    it.each([
      ['?limit=0', /^limit: /],
      ['?limit=zz', /^limit: /],
      ['?name=vm-1', /name/],
    ])('GET /v1/agents%s is 400 validation_failed naming the parameter', async (query, message) => {
      await refused('GET', `/v1/agents${query}`, {}, 400, 'validation_failed', message);
    });

    it.each([
      ['?limit=0', /^limit: /],
      ['?limit=501', /^limit: /],
      ['?cursor=nope', /^cursor: must be a session id/],
      ['?target=', /^target: /],
      ['?user=a%00b', /^user: /],
      ['?cols=80', /cols/],
    ])('GET /v1/sessions%s is 400 validation_failed naming the parameter', async (query, message) => {
      await refused('GET', `/v1/sessions${query}`, {}, 400, 'validation_failed', message);
    });

    it.each([
      ['nope', 400, 'validation_failed', /^id: must be a session id/],
      ['shs_0123456789ABCDEFGHIJ', 400, 'validation_failed', /^id: /],
      ['shs_0123456789abcdefghij', 404, 'not_found', /shs_0123456789abcdefghij/],
    ])('GET /v1/sessions/%s/logs is %i %s', async (id, status, code, message) => {
      await refused('GET', `/v1/sessions/${id}/logs`, {}, status, code, message);
    });

    it.each([
      ['?selector=env%3Dprod%2Crole%20in%20web', /^selector: at position 17: expected "\(", found "web"$/],
      ['?selector=env%3Dprod%2C', /^selector: at position 9: expected a label key, found the end$/],
      ['?selector=!', /^selector: at position 1: expected a label key/],
      ['?selector=-env', /^selector: at position 0: expected a label key/],
      ['?selector=env%3D-x', /^selector: at position 4: expected a label value/],
      ['?selector=a%3E1', /^selector: at position 1: expected "=", "==", "!=", "in", "notin", "," or the end/],
      [`?selector=${'a'.repeat(4097)}`, /^selector: /],
      ['?kinds=vm', /^kinds: must be a comma-separated list/],
      ['?kinds=', /^kinds: /],
      ['?limit=0', /^limit: /],
      ['?limit=10001', /^limit: /],
      ['?label=a%3Db', /label/],
    ])('GET /v1/targets%s is 400 validation_failed naming the parameter', async (query, message) => {
      const res = await refused('GET', `/v1/targets${query}`, {}, 400, 'validation_failed', message);
      const field = /^(\w+):/.exec(res.body.error.message)?.[1];
      if (field === 'selector' && query.length < 100) expect(res.body.error.details).toEqual({ field: 'selector', position: expect.any(Number) });
    });
  });

  describe('POST /v1/agents', () => {
    it.each([
      ['not JSON', 'name=vm', 'invalid_json', /JSON/],
      ['no name', '{}', 'validation_failed', /^name: /],
      ['a name with a space', '{"name":"my vm"}', 'validation_failed', /^name: /],
      ['a name over 63 characters', JSON.stringify({ name: 'a'.repeat(64) }), 'validation_failed', /^name: /],
      ['an unknown field', '{"name":"vm-x","token":"mine"}', 'validation_failed', /token/],
      ['bad labels', '{"name":"vm-x","labels":{"zone":1}}', 'validation_failed', /^labels\.zone: /],
    ])('refuses %s with 400', async (_what, body, code, message) => {
      await refused('POST', '/v1/agents', { body }, 400, code, message);
    });

    it('refuses a taken name with 409 name_taken', async () => {
      await refused('POST', '/v1/agents', { body: '{"name":"vm-1"}' }, 409, 'name_taken', /vm-1/);
    });
  });

  describe('bodies over 1 MiB', () => {
    const big = JSON.stringify({ command: 'echo ' + 'x'.repeat(MAX_BODY_BYTES) });

    it('refuses a body that declares its length with 413 payload_too_large', async () => {
      await refused('POST', '/v1/jobs', { body: big, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(big)) } }, 413, 'payload_too_large', /1048576/);
      await refused('POST', '/v1/agents', { body: big, headers: { 'content-length': String(Buffer.byteLength(big)) } }, 413, 'payload_too_large');
    });

    it('refuses a streamed body without a length with 413 payload_too_large', async () => {
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent > MAX_BODY_BYTES + chunk.length) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      await refused('POST', '/v1/jobs', { body: stream, headers: { 'content-type': 'application/json' } }, 413, 'payload_too_large');
    });

    it('accepts a valid body just under the limit', async () => {
      const body = JSON.stringify({ command: 'true', env: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`V${i}`, 'v'.repeat(25 * 1024)])) });
      expect(Buffer.byteLength(body)).toBeLessThan(MAX_BODY_BYTES);
      expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BODY_BYTES - 64 * 1024);
      const res = await call('POST', '/v1/jobs', postJob(body));
      expect(res.status, res.text).toBe(201);
    });
  });

  describe('authentication', () => {
    it.each([
      ['no Authorization header', {}, /Bearer/],
      ['an empty bearer', { authorization: 'Bearer ' }, undefined],
      ['another scheme', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, undefined],
      ['a bare token', { authorization: ADMIN }, undefined],
      ['a wrong token', { authorization: 'Bearer vmo_adm_wrongwrongwrongwrong' }, /not valid/],
      ['a token of no known kind', { authorization: 'Bearer hunter2hunter2' }, /not valid/],
    ])('answers %s with 401 unauthorized', async (_what, headers, message) => {
      for (const [method, path, body] of [
        ['GET', '/v1/jobs', undefined],
        ['POST', '/v1/jobs', '{"command":"echo should-not-run"}'],
        ['GET', `/v1/jobs/${existingJobId}`, undefined],
        ['POST', `/v1/jobs/${existingJobId}/cancel`, undefined],
        ['POST', '/v1/agents', '{"name":"vm-unauth"}'],
        ['DELETE', `/v1/agents/${agentId}`, undefined],
      ] as const) {
        const res = await refused(method, path, { token: null, headers, body }, 401, 'unauthorized', message);
        expect(res.text).not.toContain(ADMIN);
      }
    });

    it('answers an agent token on the REST API with 403 forbidden', async () => {
      for (const [method, path, body] of [
        ['GET', '/v1/jobs', undefined],
        ['POST', '/v1/jobs', '{"command":"echo should-not-run"}'],
        ['GET', `/v1/agents/${agentId}`, undefined],
        ['DELETE', `/v1/agents/${agentId}`, undefined],
      ] as const) {
        const res = await refused(method, path, { token: agentToken, body }, 403, 'forbidden', /agent token/);
        expect(res.text).not.toContain(agentToken);
      }
    });

    it('keeps health open without a token', async () => {
      expect((await call('GET', '/health', { token: null })).status).toBe(200);
    });
  });

  it('never answered 500 and never logged an error, and never logged a token', () => {
    expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
    const all = JSON.stringify(logLines);
    expect(all).not.toContain(ADMIN);
    expect(all).not.toContain(agentToken);
  });
});

describe('bad input on real sockets (API process)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let apiUrl: string;
  let agentToken: string;

  beforeAll(async () => {
    // No worker: jobs stay queued, which is all these cases need. The fake agents never send
    // heartbeats: a long interval keeps them online, and not swept as silent, on a slow machine.
    system = await TestSystem.start({ label: 'bad_input_net', workers: 0, env: { VMO_HEARTBEAT_MS: '10000' } });
    apiUrl = system.apiUrls[0]!;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    const res = await system.client.request('POST', '/v1/agents', { name: 'vm-frames' });
    expect(res.status, res.text).toBe(201);
    agentToken = res.body.token;
  });

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
  });

  /** The API process must still be up and healthy, and must not have logged an error. */
  async function expectServerHealthy() {
    expect(system.apis[0]!.child.exitCode).toBeNull();
    const res = await system.client.request('GET', '/v1/jobs?limit=1');
    expect(res.status, res.text).toBe(200);
    expect(system.apis[0]!.output, system.logs()).not.toMatch(/"level":(50|60)/);
  }

  /**
   * POST `size` bytes, chunked (no length) or with a Content-Length, over a raw TCP socket, and
   * stop sending once answered. The server answers 413 before the upload ends and closes after a
   * short drain: a client still writing then gets EPIPE or a reset, and node:http or fetch report
   * only that (on a loaded machine, often before the answer is parsed). Like curl, this one keeps
   * reading after a failed write and takes the answer that arrived.
   */
  function postLarge(path: string, size: number, framing: 'chunked' | 'content-length'): Promise<Reply> {
    const url = new URL(path, apiUrl);
    const head = Buffer.from('{"command":"echo ');
    const lines = [`POST ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, `Authorization: Bearer ${system.token}`, 'Content-Type: application/json', 'Connection: close'];
    lines.push(framing === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${head.length + size}`);
    const frame = (b: Buffer) => (framing === 'chunked' ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]) : b);
    return new Promise((resolve, reject) => {
      const socket = netConnect(Number(url.port), url.hostname);
      let received = Buffer.alloc(0);
      let answered = false;
      const settle = () => {
        const reply = parseHttpReply(received);
        if (reply) resolve(reply);
        else reject(new Error(`no complete HTTP answer before the connection closed (${received.length} bytes)`));
        socket.destroy();
      };
      socket.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
        if (parseHttpReply(received)) {
          answered = true;
          settle();
        }
      });
      socket.on('error', () => {}); // EPIPE / ECONNRESET while writing: keep what was answered
      socket.on('close', () => {
        if (!answered) settle();
      });
      const piece = Buffer.alloc(32 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (!answered && !socket.destroyed && sent < size) {
          const n = Math.min(piece.length, size - sent);
          sent += n;
          if (!socket.write(frame(piece.subarray(0, n)))) return void socket.once('drain', pump);
        }
        if (!answered && !socket.destroyed && framing === 'chunked') socket.write('0\r\n\r\n');
      };
      socket.on('connect', () => {
        socket.write(lines.join('\r\n') + '\r\n\r\n');
        socket.write(frame(head));
        pump();
      });
    });
  }

  /** A whole HTTP/1.1 answer (Content-Length or chunked body) from the bytes read so far, or undefined. */
  function parseHttpReply(bytes: Buffer): Reply | undefined {
    const end = bytes.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...headerLines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    let rest = bytes.subarray(end + 4);
    let bodyBytes: Buffer;
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (rest.length < length) return undefined;
      bodyBytes = rest.subarray(0, length);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        if (lineEnd < 0) return undefined;
        const n = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
        if (n === 0) break;
        if (rest.length < lineEnd + 2 + n + 2) return undefined;
        parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + n));
        rest = rest.subarray(lineEnd + 2 + n + 2);
      }
      bodyBytes = Buffer.concat(parts);
    } else return undefined;
    const text = bodyBytes.toString('utf8');
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: Number(statusLine!.split(' ')[1]), body, text };
  }

  describe('bodies over 1 MiB on a real server', () => {
    it.each(['chunked', 'content-length'] as const)('413 for a body over 1 MiB (%s), and nothing stored', async (framing) => {
      for (const path of ['/v1/jobs', '/v1/agents']) {
        const before = await snapshot(sql);
        const res = await postLarge(path, MAX_BODY_BYTES + 64 * 1024, framing);
        expectError(res, 413, 'payload_too_large');
        expect(await snapshot(sql)).toEqual(before);
      }
      await expectServerHealthy();
    });
  });

  describe('WebSocket upgrades', () => {
    it.each([
      ['a user token on the agent endpoint', '/v1/agent/connect', () => system.token, 403, 'forbidden'],
      ['no token on the agent endpoint', '/v1/agent/connect', () => undefined, 401, 'unauthorized'],
      ['an unknown agent token', '/v1/agent/connect', () => 'vmo_agt_unknownunknownunknownunknown', 401, 'unauthorized'],
      ['an agent token on a job stream', `/v1/jobs/${jobShapedId}/stream`, () => agentToken, 403, 'forbidden'],
      ['a broken percent-encoding in a stream path', '/v1/jobs/%E0%A4%A/stream', () => system.token, 404, 'not_found'],
      ['a bad ?after on a stream', `/v1/jobs/${jobShapedId}/stream?after=abc`, () => system.token, 400, 'validation_failed'],
      ['an unknown WebSocket path', '/v1/nowhere', () => system.token, 404, 'not_found'],
      ['a NUL in a stream path', '/v1/jobs/a%00b/stream', () => system.token, 400, 'validation_failed'],
      // Issue 8 #10: the agent endpoint takes its token only in the Authorization header.
      ['an agent token in a subprotocol on the agent endpoint', '/v1/agent/connect', () => undefined, 401, 'unauthorized', () => ['vmo.v1', `bearer.${agentToken}`]],
      // A bearer subprotocol needs vmo.v1 beside it, or the server would have only the token to select.
      // Issue 17: the shell upgrade refuses bad input before the 101, naming the field.
      ['a bad ?cols on a shell', '/v1/agents/vm-frames/shell?cols=0', () => system.token, 400, 'validation_failed', undefined, /^cols: /],
      ['a bad ?rows on a shell', '/v1/agents/vm-frames/shell?rows=1001', () => system.token, 400, 'validation_failed', undefined, /^rows: /],
      ['a bad ?offset on a shell', '/v1/agents/vm-frames/shell?offset=-1', () => system.token, 400, 'validation_failed', undefined, /^offset: /],
      ['a bad ?session on a shell', '/v1/agents/vm-frames/shell?session=nope', () => system.token, 400, 'validation_failed', undefined, /^session: /],
      ['an empty ?command on a shell', '/v1/agents/vm-frames/shell?command=', () => system.token, 400, 'validation_failed', undefined, /^command: /],
      ['a NUL in a shell ?command', '/v1/agents/vm-frames/shell?command=a%00b', () => system.token, 400, 'validation_failed', undefined, /^command: /],
      ['an unknown agent on a shell', '/v1/agents/no-such-agent/shell', () => system.token, 404, 'not_found'],
      ['an unknown session on a shell', '/v1/agents/vm-frames/shell?session=shs_0123456789abcdefghij', () => system.token, 404, 'not_found'],
      ['an agent token on a shell', '/v1/agents/vm-frames/shell', () => agentToken, 403, 'forbidden'],
      ['no token on a shell', '/v1/agents/vm-frames/shell', () => undefined, 401, 'unauthorized'],
      ['a bearer subprotocol without vmo.v1 on a stream', `/v1/jobs/${jobShapedId}/stream`, () => undefined, 400, 'protocol_required', () => [`bearer.${system.token}`]],
    ])('refuses %s', async (_what, path, token, status, code, protocols?: () => string[], message?: RegExp) => {
      const before = await snapshot(sql);
      const res = await openWebSocket(apiUrl + path, { token: token(), protocols: protocols?.() });
      expect(res.kind).toBe('refused');
      if (res.kind !== 'refused') return;
      expectError({ status: res.status, body: JSON.parse(res.body), text: res.body }, status, code, message);
      expect(res.body).not.toContain(agentToken);
      expect(res.body).not.toContain(system.token);
      expect(await snapshot(sql)).toEqual(before);
      await expectServerHealthy();
    });

    it('refuses a shell on an agent that is not connected: 409 agent_not_connected, no session recorded', async () => {
      expect((await system.client.request('POST', '/v1/agents', { name: 'vm-never-connected' })).status).toBe(201);
      const sessions = async () => Number((await sql`select count(*)::int as n from shell_sessions`)[0]!['n']);
      const before = await sessions();
      const res = await openWebSocket(`${apiUrl}/v1/agents/vm-never-connected/shell`, { token: system.token });
      expect(res.kind).toBe('refused');
      if (res.kind !== 'refused') return;
      expectError({ status: res.status, body: JSON.parse(res.body), text: res.body }, 409, 'agent_not_connected', /vm-never-connected/);
      expect(await sessions()).toBe(before);
      await expectServerHealthy();
    });

    it('§1: never echoes a token offered as a subprotocol: the agent endpoint selects vmo.v1 or nothing', async () => {
      const res = await openWebSocket(`${apiUrl}/v1/agent/connect`, { token: agentToken, protocols: [`bearer.${agentToken}`, 'vmo.v1'] });
      expect(res.kind).toBe('open');
      if (res.kind !== 'open') return;
      expect(res.protocol).toBe('vmo.v1');
      res.ws.close(1000);
      await res.closed;
    });
  });

  describe('malformed frames from an agent', () => {
    const jobId = jobShapedId;
    const hello = JSON.stringify({ type: 'hello', v: 1, agentVersion: 'test', hostname: 'frames', os: 'linux', arch: 'x64', jobs: [] });

    async function connectAgent(token = agentToken): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; messages: any[] }> {
      const res = await openWebSocket(`${apiUrl}/v1/agent/connect`, { token });
      if (res.kind !== 'open') throw new Error(`agent upgrade refused: ${res.status} ${res.body}`);
      const messages: any[] = [];
      res.ws.on('message', (data, isBinary) => {
        if (!isBinary) messages.push(JSON.parse(data.toString()));
      });
      return { ws: res.ws, closed: res.closed, messages };
    }

    async function welcomed(token = agentToken) {
      const agent = await connectAgent(token);
      agent.ws.send(hello);
      await waitFor('welcome', () => agent.messages.some((m) => m.type === 'welcome'));
      return agent;
    }

    /** What a bad frame must not change; `last_seen_at` of the connected agent moves on its own. */
    const stored = async () => {
      const { agents_digest: _moving, ...rest } = await snapshot(sql);
      return rest;
    };

    it.each<[string, (ws: WebSocket) => void, number]>([
      ['a text frame that is not JSON', (ws) => ws.send('hello there'), 1008],
      ['a JSON frame that fails the schema', (ws) => ws.send(JSON.stringify({ type: 'hello', v: 2 })), 1008],
      ['a JSON frame of an unknown type', (ws) => ws.send(JSON.stringify({ type: 'shell', v: 1, command: 'id' })), 1008],
      ['a heartbeat', (ws) => ws.send(JSON.stringify({ type: 'heartbeat', v: 1, running: 0 })), 1008],
      ['an output frame', (ws) => ws.send(encodeOutputFrame({ jobId, seq: 0, stream: 1, data: Buffer.from('early') })), 1008],
      ['a frame over 1 MiB', (ws) => ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1, 'x')), 1009],
    ])('closes the socket on %s before hello', async (_what, sendBad, code) => {
      const before = await stored();
      const agent = await connectAgent();
      sendBad(agent.ws);
      expect((await agent.closed).code).toBe(code);
      expect(await stored()).toEqual(before);
      await expectServerHealthy();
    });

    it.each<[string, (ws: WebSocket) => void, number]>([
      ['a binary frame of an unknown kind', (ws) => ws.send(Buffer.from([9, 1, 0, 0, 0, 0, 0])), 1008],
      ['a binary frame shorter than its header', (ws) => ws.send(Buffer.from([1, 1])), 1008],
      ['an output frame with a bad stream', (ws) => ws.send(Buffer.concat([Buffer.from([1, 7, 0, 0, 0, 0, jobId.length]), Buffer.from(jobId), Buffer.from('x')])), 1008],
      ['an output frame with a bad job id', (ws) => ws.send(Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 5]), Buffer.from('job_x'), Buffer.from('x')])), 1008],
      ['an empty output frame', (ws) => ws.send(encodeOutputFrame({ jobId, seq: 0, stream: 1, data: Buffer.alloc(0) })), 1008],
      ['an output chunk over 64 KiB', (ws) => ws.send(encodeOutputFrame({ jobId, seq: 0, stream: 1, data: Buffer.alloc(64 * 1024 + 1) })), 1008],
      ['a second hello', (ws) => ws.send(hello), 1008],
      ['a text frame that is not JSON', (ws) => ws.send('{"type":'), 1008],
      ['an exit with a bad job id', (ws) => ws.send(JSON.stringify({ type: 'exit', v: 1, jobId: '../x', attempt: 0, exitCode: 0, signal: null, nextSeq: 0, truncated: false })), 1008],
      ['a text frame over 1 MiB', (ws) => ws.send('x'.repeat(MAX_FRAME_BYTES + 1)), 1009],
      ['a binary frame over 1 MiB', (ws) => ws.send(encodeOutputFrame({ jobId, seq: 0, stream: 1, data: Buffer.alloc(MAX_FRAME_BYTES) })), 1009],
    ])('closes the socket on %s after hello', async (_what, sendBad, code) => {
      const agent = await welcomed();
      const before = await stored();
      sendBad(agent.ws);
      expect((await agent.closed).code).toBe(code);
      expect(await stored()).toEqual(before);
      await expectServerHealthy();
    });

    /** Issue 8 #7: such text in a frame is the agent's fault (1008), not the server's (1012). */
    const helloWith = (fields: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(hello), ...fields });
    it.each<[string, string]>([
      ['a hostname with a NUL byte', helloWith({ hostname: 'vm\u0000' })],
      ['an os with an unpaired surrogate', helloWith({ os: 'linux\ud800' })],
      ['a label value with a NUL byte', helloWith({ labels: { zone: 'eu\u0000' } })],
      ['a label value with an unpaired surrogate', helloWith({ labels: { zone: '\udc00' } })],
      ['a label key registration refuses', helloWith({ labels: { 'a b': 'x' } })],
      ['3,500 labels', helloWith({ labels: Object.fromEntries(Array.from({ length: 3500 }, (_, i) => [`k${i}`, 'v'.repeat(200)])) })],
    ])('§1: closes the socket with 1008 on a hello with %s, and stores nothing of it', async (_what, badHello) => {
      const row = () => sql`select to_jsonb(a) - 'last_seen_at' as row from agents a where name = 'vm-frames'`;
      const [before] = await row();
      const agent = await connectAgent();
      agent.ws.send(badHello);
      expect((await agent.closed).code).toBe(1008);
      const [after] = await row();
      expect(after).toEqual(before);
      await expectServerHealthy();
    });

    it('closes the socket with 1008 on an exit whose error has a NUL byte', async () => {
      const agent = await welcomed();
      const before = await stored();
      agent.ws.send(JSON.stringify({ type: 'exit', v: 1, jobId, attempt: 0, exitCode: null, signal: null, nextSeq: 0, truncated: false, error: { code: 'x', message: 'a\u0000b' } }));
      expect((await agent.closed).code).toBe(1008);
      expect(await stored()).toEqual(before);
      await expectServerHealthy();
    });

    it('keeps accepting agents after all that: another agent connects and is welcomed, and the same agent reconnects', async () => {
      const res = await system.client.request('POST', '/v1/agents', { name: 'vm-after' });
      expect(res.status, res.text).toBe(201);
      const other = await welcomed(res.body.token);
      const again = await welcomed();
      await system.waitForAgentStatus(res.body.id, 'online');
      other.ws.close(1000);
      again.ws.close(1000);
      await Promise.all([other.closed, again.closed]);
      await expectServerHealthy();
    });
  });

  /**
   * Issue 8 #8: three reconnects with ~3,500 labels each left 14,002 keys on the agent. A hello's
   * labels follow the registration rules, replace the previous hello's, and never override the
   * labels an operator registered.
   */
  describe('labels an agent reports in hello', () => {
    let token: string;
    let id: string;

    beforeAll(async () => {
      const res = await system.client.request('POST', '/v1/agents', { name: 'vm-labels', labels: { zone: 'eu', team: 'ops' } });
      expect(res.status, res.text).toBe(201);
      token = res.body.token;
      id = res.body.id;
    });

    /** Connect, say hello with these labels, wait for welcome, disconnect; then what GET shows. */
    async function reportLabels(labels: Record<string, string> | undefined): Promise<Record<string, string>> {
      const res = await openWebSocket(`${apiUrl}/v1/agent/connect`, { token });
      if (res.kind !== 'open') throw new Error(`agent upgrade refused: ${res.status} ${res.body}`);
      const messages: any[] = [];
      res.ws.on('message', (data, isBinary) => {
        if (!isBinary) messages.push(JSON.parse(data.toString()));
      });
      res.ws.send(JSON.stringify({ type: 'hello', v: 1, agentVersion: 'test', hostname: 'labels', os: 'linux', arch: 'x64', jobs: [], ...(labels ? { labels } : {}) }));
      await waitFor('welcome', () => messages.some((m) => m.type === 'welcome'));
      res.ws.close(1000);
      await res.closed;
      const agent = await system.client.request('GET', `/v1/agents/${id}`);
      expect(agent.status, agent.text).toBe(200);
      return agent.body.labels;
    }

    it('§1: replace the previous report; registered labels win on the same key', async () => {
      expect(await reportLabels({ zone: 'us', gpu: 'yes', rack: 'r1' })).toEqual({ zone: 'eu', team: 'ops', gpu: 'yes', rack: 'r1' });
      expect(await reportLabels({ disk: 'ssd' })).toEqual({ zone: 'eu', team: 'ops', disk: 'ssd' });
      expect(await reportLabels(undefined)).toEqual({ zone: 'eu', team: 'ops' });
    });

    it('§1: do not pile up over reconnects: three hellos of 64 different labels leave 64 of them', async () => {
      for (let round = 0; round < 3; round++) {
        const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`r${round}-k${i}`, 'v'.repeat(255)]));
        const shown = await reportLabels(labels);
        expect(shown).toEqual({ ...labels, zone: 'eu', team: 'ops' });
      }
      const [row] = await sql<{ bytes: number }[]>`select pg_column_size(a.*)::int as bytes from agents a where id = ${id}`;
      expect(row!.bytes).toBeLessThan(64 * 1024);
      const list = await system.client.request('GET', '/v1/agents?limit=500');
      expect(list.text.length).toBeLessThan(256 * 1024);
    });
  });
});
