import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonSchema } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';
import { postgres } from '@vmo/shared/db';
import { generateToken } from '@vmo/shared/tokens';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import { createApp } from '../src/app.ts';
import { ensureAdminToken } from '../src/auth/admin-token.ts';
import { TokenStore } from '../src/auth/token-store.ts';

/**
 * A token lookup that Postgres does not answer (here: api_tokens locked by another connection's
 * open transaction, as a migration or a stuck `ALTER` would) must not hang the requests behind
 * it: GroupCommit's deadline answers them 503 `unavailable` with Retry-After, a dead database
 * never gets more than a few statements from this node, and once the lock goes the same token
 * works again. The API in this process on the real Postgres, as in-process-app.ts builds it,
 * with the production pool (10) and a short deadline.
 */
const DEADLINE_MS = 400;
/** TokenStore's GroupCommit: 2 lookups in flight and at most 2 overdue ones still open. */
const MOST_OPEN_LOOKUPS = 4;

let testDb: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let cp: ControlPlane & { close(): Promise<void> };
let locker: ReturnType<typeof postgres>;
let app: ReturnType<typeof createApp>;
let token: string;

beforeAll(async () => {
  testDb = await createTestDatabase('test_token_deadline');
  prefix = createTestPrefix('token_deadline');
  const log = pino({ level: process.env.VMO_TEST_LOG ?? 'silent' });
  cp = await openControlPlane(commonSchema.parse({ VMO_DATABASE_URL: testDb.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: prefix.prefix }), log);
  token = generateToken('admin');
  await ensureAdminToken(cp.database, token);
  app = createApp({ cp, tokens: new TokenStore(cp.database, undefined, { lookupDeadlineMs: DEADLINE_MS }), log });
  // Two connections: one holds the lock in its transaction, the other looks at pg_stat_activity meanwhile.
  locker = postgres(testDb.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await locker?.end({ timeout: 5 });
  await cp?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

const me = () => app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } });

/** Sessions of this database waiting for a lock: the lookups the lock holds. */
async function lookupsWaitingOnTheLock(): Promise<number> {
  const [row] = await locker<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${testDb.name} and wait_event_type = 'Lock'`;
  return row!.n;
}

/** `count` requests at once: each one's status, Retry-After, error code and message, and how long the slowest took. */
async function wave(count: number) {
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const res = await me();
      const body = (await res.json()) as { error?: { code: string; message: string } };
      return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.error?.code, message: body.error?.message ?? '' };
    }),
  );
  return { answers, tookMs: Date.now() - started };
}

describe('token lookups while api_tokens is locked', () => {
  it('answer 503 with Retry-After within the deadline instead of hanging, open a bounded number of statements, and answer 200 once the lock goes', async () => {
    expect((await me()).status).toBe(200);

    let release!: () => void;
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    const transaction = locker.begin(async (tx) => {
      await tx`lock table api_tokens in access exclusive mode`;
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await lockTaken;
    try {
      // Two waves, one after the other, stalled on the lock: answered when their lookup's
      // deadline passes (at most two deadlines: one waiting for a slot, one for the lookup),
      // never left hanging. (A wave whose requests reached two batches may have filled the two
      // overdue places alone: then the next wave is refused without a statement.)
      const stalled = [await wave(5), await wave(5)];
      for (const { answers, tookMs } of stalled) {
        for (const a of answers) {
          expect(a).toMatchObject({ status: 503, code: 'unavailable', retryAfter: '1' });
          expect(a.message).toMatch(/^the token lookup (did not finish within 400 ms|was not tried)/);
        }
        expect(tookMs).toBeLessThan(2 * DEADLINE_MS + 5_000);
      }
      expect(stalled[0]!.answers[0]!.message).toMatch(/did not finish within 400 ms/);
      // At least two lookups are open past their deadline now: the next ones are refused at
      // once, without a statement (they do not wait for the lock, nor for a deadline).
      const refused = await wave(20);
      for (const a of refused.answers) {
        expect(a).toMatchObject({ status: 503, code: 'unavailable', retryAfter: '1' });
        expect(a.message).toMatch(/^the token lookup was not tried: [23] earlier ones are still unanswered/);
      }
      // 30 requests, and only a few statements wait on the lock (each one a pool connection held).
      const waiting = await lookupsWaitingOnTheLock();
      expect(waiting).toBeGreaterThan(0);
      expect(waiting).toBeLessThanOrEqual(MOST_OPEN_LOOKUPS);
    } finally {
      release();
      await transaction;
    }

    // The lock gone, the stalled lookups finish (to nobody), their slots come back, and the same token is good again.
    await waitFor('a request answered 200 after the lock was released', async () => (await me()).status === 200, 20_000);
    expect(await lookupsWaitingOnTheLock()).toBe(0);
    const after = await wave(5);
    expect(after.answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  });
});
