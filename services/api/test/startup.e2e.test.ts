import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, createTestPrefix, freePort, ServiceProcess, TEST_REDIS_URL, unusedTestDatabase, waitFor } from '@vmo/testkit';

const TOKEN = /vmo_adm_[A-Za-z0-9_-]+/g;
const RUNNING = /vmo is running at (http:\/\/\S+)/;

/**
 * `npm start` as a new user runs it: the all-in-one process (API, worker, built-in agent "local")
 * on a database that does not exist yet and with no VMO_ADMIN_TOKEN.
 */
describe('npm start (all-in-one) on a fresh machine', () => {
  const db = unusedTestDatabase('startup');
  const redis = createTestPrefix('startup');
  const env = {
    VMO_DATABASE_URL: db.url,
    VMO_REDIS_URL: TEST_REDIS_URL,
    VMO_REDIS_PREFIX: redis.prefix,
    VMO_PORT: '0',
    VMO_HOST: '127.0.0.1',
    VMO_LOG_LEVEL: 'info',
    VMO_HEARTBEAT_MS: '500',
  };
  const started: ServiceProcess[] = [];
  const start = (extra: Record<string, string> = {}) => {
    const proc = new ServiceProcess('all', { ...env, ...extra });
    started.push(proc);
    return proc;
  };
  let first: ServiceProcess;
  let url: string;
  let adminToken: string;

  beforeAll(async () => {
    first = start();
    url = (await first.waitForOutput(RUNNING, 60_000))[1]!;
  });
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await db.drop().catch(() => {});
    await redis.cleanup().catch(() => {});
  });

  it('prints a generated admin token exactly once, and it works', async () => {
    const tokens = [...new Set(first.output.match(TOKEN) ?? [])];
    expect(tokens).toHaveLength(1);
    adminToken = tokens[0]!;
    const authed = await new ApiClient(url, adminToken).request('GET', '/v1/jobs');
    expect(authed.status).toBe(200);
    expect(authed.body.items).toEqual([]);
    const anonymous = await new ApiClient(url, undefined).request('GET', '/v1/jobs');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toEqual(expect.any(String));
    const wrong = await new ApiClient(url, 'vmo_adm_not-the-token').request('GET', '/v1/jobs');
    expect(wrong.status).toBe(401);
  });

  it('runs a job on the built-in agent "local" right after start', async () => {
    const client = new ApiClient(url, adminToken);
    const job = await client.submit({ command: 'echo hello from local; exit 0', target: { type: 'agent', agent: 'local' } });
    const ended = await client.waitForEnd(job.id);
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await client.logs(job.id)).toString()).toBe('hello from local\n');
    const local = await client.request('GET', '/v1/agents/local');
    expect(local.status).toBe(200);
    expect(local.body.status).toBe('online');
  });

  it('answers /health and /health/ready with 200, without a token', async () => {
    const anonymous = new ApiClient(url, undefined);
    expect((await anonymous.request('GET', '/health')).status).toBe(200);
    const ready = await anonymous.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
  });

  it('exits 0 on SIGTERM; a second start on the same database prints no token and keeps the first one valid', async () => {
    expect(await first.stop()).toEqual({ code: 0, signal: null });

    const second = start();
    const secondUrl = (await second.waitForOutput(RUNNING, 60_000))[1]!;
    expect(second.output.match(TOKEN)).toBeNull();
    const client = new ApiClient(secondUrl, adminToken);
    expect((await client.request('GET', '/v1/jobs')).status).toBe(200);
    // The built-in agent comes back with the same identity and still runs jobs.
    const job = await client.submit({ command: 'echo again', target: { type: 'agent', agent: 'local' } });
    expect((await client.waitForEnd(job.id)).status).toBe('succeeded');
    expect((await client.request('GET', '/v1/agents')).body.items.filter((a: { name: string }) => a.name === 'local')).toHaveLength(1);

    expect(await second.stop()).toEqual({ code: 0, signal: null });
    expect(second.output.match(TOKEN)).toBeNull();
  });

  it('stops with one line naming the variable and a non-zero exit on a bad config value (VMO_PORT=abc)', async () => {
    const bad = start({ VMO_PORT: 'abc' });
    const exit = await bad.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const lines = bad.output.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('VMO_PORT');
    expect(lines[0]).toContain('abc');
  });
});

describe('npm start: the first request the API can answer', () => {
  const db = unusedTestDatabase('startup_early');
  const redis = createTestPrefix('startup_early');
  const token = 'vmo_adm_startup-early-0123456789';
  let proc: ServiceProcess;

  afterAll(async () => {
    await proc?.stop();
    await db.drop().catch(() => {});
    await redis.cleanup().catch(() => {});
  });

  it('already knows the built-in agent "local": a job sent the moment the API answers is accepted and runs', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    proc = new ServiceProcess('all', {
      VMO_DATABASE_URL: db.url,
      VMO_REDIS_URL: TEST_REDIS_URL,
      VMO_REDIS_PREFIX: redis.prefix,
      VMO_PORT: String(port),
      VMO_HOST: '127.0.0.1',
      VMO_LOG_LEVEL: 'info',
      VMO_ADMIN_TOKEN: token,
    });
    // Knock until the API answers at all: the earliest a client can reach it, before the worker
    // and the agent are up and before "vmo is running" is printed.
    await waitFor('the API to answer', () => fetch(`${url}/health`).then((r) => r.ok || undefined, () => undefined), 60_000, 10);
    const client = new ApiClient(url, token);
    const job = await client.submit({ command: 'echo early', target: { type: 'agent', agent: 'local' } });
    expect(job.status).toBe('queued');
    expect((await client.waitForEnd(job.id, 30_000)).status).toBe('succeeded');
    expect((await client.logs(job.id)).toString()).toBe('early\n');
  });
});
