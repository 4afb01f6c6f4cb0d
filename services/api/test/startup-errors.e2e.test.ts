import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLogLines } from '@vmo/shared/log-line';
import { Redis } from 'ioredis';
import { createTestPrefix, freePort, RedisServer, ServiceProcess, TEST_REDIS_URL, unusedTestDatabase, type Role } from '@vmo/testkit';

const PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEADLINE = 180_000; // real processes on a machine that may be loaded: a deadline, not a measure

/**
 * Issue 12, Start-up and errors: a start that cannot work says so in ONE line naming the cause and
 * the setting to change, exits non-zero, and prints no stack trace; `--version` on every executable.
 */
describe.concurrent('a start that cannot work: one line naming the setting, no stack trace', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    await Promise.all(cleanups.map((c) => c().catch(() => undefined)));
  });

  /** Run to its exit; the output's one line that is not a log line of the schema. */
  async function failedStart(role: Role, env: Record<string, string>) {
    const proc = new ServiceProcess(role, { VMO_HOST: '127.0.0.1', VMO_PORT: '0', VMO_LOG_LEVEL: 'info', ...env });
    cleanups.push(() => proc.stop());
    const exit = await proc.exited;
    const { invalid, other } = parseLogLines(proc.output);
    expect(invalid, proc.output).toEqual([]);
    expect(other, proc.output).toHaveLength(1);
    expect(proc.output, 'a stack trace').not.toMatch(/^\s+at /m);
    return { code: exit.code, line: other[0]! };
  }

  it('Postgres refused (nothing listens on its port): names VMO_DATABASE_URL, exit 69', async () => {
    const port = await freePort();
    const { code, line } = await failedStart('api', { VMO_DATABASE_URL: `postgres://postgres:${'pw-never-shown'}@127.0.0.1:${port}/vmo`, VMO_REDIS_URL: TEST_REDIS_URL });
    expect(code).toBe(69);
    expect(line).toMatch(new RegExp(`^vmo api: cannot start: Postgres refused the connection at 127\\.0\\.0\\.1:${port} .*VMO_DATABASE_URL`));
    expect(line).not.toContain('pw-never-shown');
  }, DEADLINE);

  it('a role Postgres does not know: names the role and VMO_DATABASE_URL, exit 78 (worker)', async () => {
    const { code, line } = await failedStart('worker', { VMO_DATABASE_URL: 'postgres://vmo_no_such_role@127.0.0.1:5432/vmo', VMO_REDIS_URL: TEST_REDIS_URL });
    expect(code).toBe(78);
    expect(line).toMatch(/^vmo worker: cannot start: Postgres at 127\.0\.0\.1:5432 refused the login: role "vmo_no_such_role" does not exist.*VMO_DATABASE_URL$/);
  }, DEADLINE);

  it('Redis refused: names VMO_REDIS_URL, exit 69 (no 30 s wait, no warning loop)', async () => {
    const port = await freePort();
    const { code, line } = await failedStart('api', { VMO_DATABASE_URL: PG, VMO_REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(code).toBe(69);
    expect(line).toMatch(new RegExp(`^vmo api: cannot start: Redis refused the connection at 127\\.0\\.0\\.1:${port} .*VMO_REDIS_URL$`));
  }, DEADLINE);

  it('a Redis that evicts keys (issue 19): refused in one line naming the policy and VMO_REDIS_URL, exit 78 (worker)', async () => {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.stop());
    const direct = new Redis(redis.url);
    await direct.config('SET', 'maxmemory-policy', 'allkeys-lru');
    direct.disconnect();
    const { code, line } = await failedStart('worker', { VMO_DATABASE_URL: PG, VMO_REDIS_URL: redis.url });
    expect(code).toBe(78);
    expect(line).toBe('vmo worker: cannot start: Redis has maxmemory-policy allkeys-lru: it may evict queue keys and lose or repeat jobs; set maxmemory-policy noeviction on it (VMO_REDIS_URL)');
  }, DEADLINE);

  it('the port is in use (npm start): names the port and VMO_PORT, exit 69', async () => {
    const held: Server = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => held.close(resolve)));
    const port = (held.address() as { port: number }).port;
    const db = unusedTestDatabase('startup_port');
    const redis = createTestPrefix('startup_port');
    cleanups.push(() => db.drop(), () => redis.cleanup());
    const { code, line } = await failedStart('all', { VMO_DATABASE_URL: db.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: redis.prefix, VMO_PORT: String(port) });
    expect(code).toBe(69);
    expect(line).toBe(`vmo: cannot start: port ${port} is in use by another process (is vmo already running?): stop it, or set VMO_PORT`);
  }, DEADLINE);
});

describe.concurrent('--version on every executable', () => {
  const versionOf = (workspace: string) => (JSON.parse(readFileSync(new URL(`../../../${workspace}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  const cases: [Role, string, string][] = [
    ['api', 'vmo-api', 'services/api'],
    ['worker', 'vmo-worker', 'services/worker'],
    ['agent', 'vmo-agent', 'services/agent'],
    ['all', 'vmo', 'apps/vmo'],
  ];
  for (const [role, name, workspace] of cases) {
    it(`${role}: prints "${name} <version>" and exits 0, with nothing configured`, async () => {
      const proc = new ServiceProcess(role, {}, ['--version']);
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect(proc.output).toBe(`${name} ${versionOf(workspace)}\n`);
    }, DEADLINE);
  }
});
