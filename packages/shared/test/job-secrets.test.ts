/**
 * A job's sealed secretEnv against the real Postgres and Redis: it is written with the job (one
 * transaction: no job without its secrets), opens only for that job and key, and is dropped when
 * the job ends, by the lifecycle observer at once for the ends this process writes, and by the
 * sweep for the ones it did not see. submitJob refuses it without a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, type TestDatabase } from '@vmo/testkit';
import type { ControlPlane } from '../src/control-plane/index.ts';
import { migrateDatabase, openDatabase, type Database } from '../src/db/index.ts';
import { AppError } from '../src/errors/index.ts';
import {
  dropEndedJobSecrets,
  dropSecretsOnEnd,
  JobInput,
  onTransition,
  openSecretEnv,
  readSealedSecretEnv,
  submitJob,
  transition,
} from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';
import { createJobQueue } from '../src/queue/index.ts';
import { createRedis, keys, type Redis } from '../src/redis.ts';
import { SecretBox, SecretBoxError } from '../src/secrets/index.ts';

const KEY = '2f7c9a1e5b3d8f0a6c4e2b9d7f1a3c5e8b0d2f4a6c9e1b3d5f7a0c2e4b6d8f1a';
const SECRET = 'vmo-job-secrets-test-Jq4Rw8';

let testDb: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let database: Database;
let redis: Redis;
let cp: ControlPlane;

beforeAll(async () => {
  testDb = await createTestDatabase('job_secrets');
  prefix = createTestPrefix('job_secrets');
  await migrateDatabase(testDb.url);
  database = openDatabase(testDb.url, { max: 4 });
  redis = createRedis(TEST_REDIS_URL);
  const k = keys(prefix.prefix);
  const queue = createJobQueue(redis, k.bullPrefix);
  cp = { database, redis, queue, keys: k, log: createLogger('job-secrets-test', 'silent'), limits: { maxOutputBytes: 1 << 20, tailBytes: 1 << 16, agentGraceMs: 60_000, heartbeatMs: 1000 }, secretBox: SecretBox.fromHex(KEY) };
});

afterAll(async () => {
  await cp?.queue.close();
  redis?.disconnect();
  await database?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

const submit = (body: Record<string, unknown>, over: Partial<ControlPlane> = {}) => submitJob({ ...cp, ...over }, JobInput.parse({ command: 'true', ...body }), null);

describe('job secrets', () => {
  it('are stored sealed with the job, open only for that job, and show only their names', async () => {
    const job = await submit({ env: { PLAIN: 'x' }, secretEnv: { TOKEN: SECRET, OTHER: 'another-value' } });
    expect(job.secretEnvNames).toEqual(['OTHER', 'TOKEN']);
    expect(JSON.stringify(job)).not.toContain(SECRET);
    const sealed = await readSealedSecretEnv(database.sql, job.id);
    expect(sealed!.includes(Buffer.from(SECRET))).toBe(false);
    expect(openSecretEnv(cp.secretBox!, job.id, sealed!)).toEqual({ TOKEN: SECRET, OTHER: 'another-value' });
    const other = await submit({});
    expect(other.secretEnvNames).toEqual([]);
    expect(await readSealedSecretEnv(database.sql, other.id)).toBeUndefined();
    expect(() => openSecretEnv(cp.secretBox!, other.id, sealed!)).toThrow(SecretBoxError);
  });

  it('with an Idempotency-Key: stored once, with the job; the key stores a keyed digest, not a hash of the values', async () => {
    const idem = { principal: 'tester', key: 'k-1' };
    const input = JobInput.parse({ command: 'true', secretEnv: { TOKEN: SECRET } });
    const first = await submitJob(cp, input, null, idem);
    const again = await submitJob(cp, input, null, idem);
    expect(again).toMatchObject({ id: first.id, replayed: true });
    expect(await readSealedSecretEnv(database.sql, first.id)).toBeDefined();
    // The same body under another key yields another digest: the stored hash is useless without the key.
    const otherKey = { ...cp, secretBox: SecretBox.fromHex('8'.repeat(8) + KEY.slice(8)) };
    const elsewhere = await submitJob(otherKey, input, null, { principal: 'tester', key: 'k-2' });
    const hashes = await database.sql<{ request_hash: string }[]>`select request_hash from idempotency_keys where job_id in ${database.sql([first.id, elsewhere.id])}`;
    expect(new Set(hashes.map((h) => h.request_hash)).size).toBe(2);
  });

  it('a name in both env and secretEnv is a 400 naming it; without a key, 422 secrets_disabled; nothing is written', async () => {
    const count = async () => (await database.sql<{ n: number }[]>`select count(*)::int as n from jobs`)[0]!.n;
    const before = await count();
    await expect(submit({ env: { TOKEN: 'x' }, secretEnv: { TOKEN: SECRET } })).rejects.toMatchObject({ status: 400, code: 'validation_failed', details: { field: 'secretEnv.TOKEN' } });
    const disabled = await submit({ secretEnv: { TOKEN: SECRET } }, { secretBox: undefined }).catch((e: AppError) => e);
    expect(disabled).toBeInstanceOf(AppError);
    expect(disabled).toMatchObject({ status: 422, code: 'secrets_disabled' });
    expect((disabled as AppError).message).not.toContain(SECRET);
    // An empty secretEnv is no secret: fine without a key.
    expect((await submit({ secretEnv: {} }, { secretBox: undefined })).secretEnvNames).toEqual([]);
    expect(await count()).toBe(before + 1);
  });

  it('the observer drops them as the transition that ends the job returns; a job without secrets costs no statement', async () => {
    const off = onTransition(dropSecretsOnEnd(cp));
    try {
      const job = await submit({ secretEnv: { TOKEN: SECRET } });
      await transition(cp, job.id, { kind: 'start', workerId: 'w', checkedAgentId: null });
      expect(await readSealedSecretEnv(database.sql, job.id)).toBeDefined(); // running: kept
      const ended = await transition(cp, job.id, { kind: 'exit', attempt: 1, exit: { exitCode: 0, signal: null, truncated: false } });
      expect(ended?.status).toBe('succeeded');
      expect(await readSealedSecretEnv(database.sql, job.id)).toBeUndefined();

      const plain = await submit({});
      const seen: string[] = [];
      const watch = database.sql.options.debug;
      database.sql.options.debug = (_conn: number, query: string) => void seen.push(query);
      try {
        await transition(cp, plain.id, { kind: 'stop_queued', reason: 'canceled' });
      } finally {
        database.sql.options.debug = watch;
      }
      expect(seen.some((q) => q.includes('update jobs'))).toBe(true); // the watch sees the statements
      expect(seen.filter((q) => q.includes('job_secrets'))).toEqual([]);
    } finally {
      off();
    }
  });

  it('the sweep drops the secrets of jobs that ended where no observer ran, and only those', async () => {
    const ended = await submit({ secretEnv: { TOKEN: SECRET } });
    const queued = await submit({ secretEnv: { TOKEN: SECRET } });
    await transition(cp, ended.id, { kind: 'stop_queued', reason: 'canceled' }); // no observer registered here
    expect(await readSealedSecretEnv(database.sql, ended.id)).toBeDefined();
    expect(await dropEndedJobSecrets(database.sql)).toBeGreaterThanOrEqual(1);
    expect(await readSealedSecretEnv(database.sql, ended.id)).toBeUndefined();
    expect(await readSealedSecretEnv(database.sql, queued.id)).toBeDefined();
  });
});
