/**
 * Review finding 1.4: the reconciler (re-adds released `queued` jobs that BullMQ lost) read the
 * 1,000 oldest every pass and asked BullMQ about each in its own round trip. With 1,000 older
 * jobs waiting in BullMQ (a busy limited target, an agent offline), a newer job Redis lost was
 * never re-added and stayed `queued` for good. Now the walk goes on from pass to pass and wraps
 * around, and a page is checked in one pipeline.
 *
 * Against the real Postgres and Redis, the reconciler's Redis connection through a counting proxy
 * (what reaches Redis as separate writes: a round trip each when a caller awaits every answer).
 */
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { openDatabase, type Database } from '@vmo/shared/db';
import { newId } from '@vmo/shared/ids';
import { createJobQueue, jobQueueEntry } from '@vmo/shared/queue';
import { createRedis, keys, type Redis } from '@vmo/shared/redis';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, type TestDatabase } from '@vmo/testkit';
import { reconcileQueuedJobs } from '../src/reconciler.ts';

const log = pino({ level: 'silent' });
const BACKLOG = 1_100;

/** A TCP proxy to the test Redis counting the chunks clients send (a command awaited before the next is one each). */
async function countingProxy(): Promise<{ url: string; sent: () => number; close: () => Promise<void> }> {
  let chunks = 0;
  const target = new URL(TEST_REDIS_URL);
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    client.on('data', (d) => {
      chunks++;
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => chunks,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let testDb: TestDatabase;
let database: Database;
let prefix: ReturnType<typeof createTestPrefix>;
let proxy: Awaited<ReturnType<typeof countingProxy>>;
let redis: Redis;
let cp: ControlPlane;
/** The backlog, oldest release first, every one waiting in BullMQ. */
let backlog: string[];
let lost: string;
let held: string;

beforeAll(async () => {
  testDb = await createTestDatabase('reconciler');
  database = openDatabase(testDb.url, { max: 4 });
  prefix = createTestPrefix('reconciler');
  proxy = await countingProxy();
  redis = createRedis(proxy.url);
  const k = keys(prefix.prefix);
  const queue = createJobQueue(redis, k.bullPrefix);
  cp = { database, redis, queue, keys: k, log, limits: { maxOutputBytes: 1 << 20, tailBytes: 1 << 16, agentGraceMs: 60_000, heartbeatMs: 1000 } };

  // 1,100 local jobs released an hour ago, one per millisecond, all known to BullMQ (waiting, in
  // BullMQ's prioritized set as every entry with a priority is: no worker here).
  backlog = Array.from({ length: BACKLOG }, () => newId('job'));
  await database.sql`
    insert into jobs (id, status, command, target, timeout_ms, created_at, released_at)
    select id, 'queued', 'true', '{"type":"local"}'::jsonb, 60000,
           clock_timestamp() - interval '1 hour' + n * interval '1 millisecond',
           clock_timestamp() - interval '1 hour' + n * interval '1 millisecond'
    from unnest(${backlog}::text[]) with ordinality as t(id, n)`;
  await queue.addBulk(backlog.map((jobId) => jobQueueEntry(jobId, null)));
  // Released a minute ago, after all of them: the one Redis lost.
  lost = newId('job');
  // A run's child still held by its run (released_at null), older than everything: never the reconciler's to add.
  held = newId('job');
  await database.sql`
    insert into jobs (id, status, command, target, timeout_ms, created_at, released_at) values
      (${lost}, 'queued', 'true', '{"type":"local"}'::jsonb, 60000, clock_timestamp() - interval '1 minute', clock_timestamp() - interval '1 minute'),
      (${held}, 'queued', 'true', '{"type":"local"}'::jsonb, 60000, clock_timestamp() - interval '2 hours', null)`;
}, 90_000);

afterAll(async () => {
  await cp?.queue.close();
  redis?.disconnect();
  await proxy?.close();
  await database?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

const known = async (id: string) => (await cp.queue.getJob(id)) !== undefined;

describe('the reconciler', () => {
  it('re-adds a job Redis lost behind 1,000+ older released jobs waiting in BullMQ, asking Redis about a page at once', async () => {
    expect(await known(lost)).toBe(false);
    const before = proxy.sent();
    const added = await reconcileQueuedJobs({ ...cp }, 5000);
    const writes = proxy.sent() - before;

    expect(added).toBe(1);
    expect(await known(lost)).toBe(true);
    expect(await known(held)).toBe(false); // held by its run: only its roll-up releases it
    // 1,101 jobs looked at: two pages, a pipeline each (a large one may reach Redis in a few
    // chunks), and the add of the lost job; one round trip per job was over 1,100.
    expect(writes).toBeLessThan(50);
    // Nothing else was touched: the backlog is still there once each, the lost job now with it.
    expect(await cp.queue.getJobCountByTypes('prioritized')).toBe(BACKLOG + 1);
  });

  it('walks on from pass to pass and starts over at the end, so a job lost anywhere is re-added within one round of passes', async () => {
    const walk = { ...cp }; // its own walk, from the first job
    const passes = { pageSize: 100, pagesPerPass: 1 };
    const oneRound = Math.ceil((BACKLOG + 1) / passes.pageSize) + 1;

    // Lose a job near the end of the list: found once the walk reaches its page, not by re-reading the first.
    const late = backlog[BACKLOG - 50]!;
    await cp.queue.remove(late);
    let n = 0;
    while (!(await known(late)) && n < oneRound) {
      await reconcileQueuedJobs(walk, 5000, passes);
      n++;
    }
    expect(await known(late)).toBe(true);
    expect(n).toBe(Math.floor((BACKLOG - 50) / passes.pageSize) + 1);

    // Lose one near the start, now behind the walk: found after it wraps around.
    const early = backlog[5]!;
    await cp.queue.remove(early);
    n = 0;
    while (!(await known(early)) && n < oneRound) {
      await reconcileQueuedJobs(walk, 5000, passes);
      n++;
    }
    expect(await known(early)).toBe(true);
    expect(n).toBeGreaterThan(1);
    expect(n).toBeLessThanOrEqual(oneRound);
  });

  it('re-adds a job whose BullMQ entry failed (kept a day, it would block the add of its id), and leaves waiting ones alone', async () => {
    const id = backlog[10]!;
    // The entry as a failed delivery leaves it: out of the wait list, in the failed set.
    await redis.zrem(cp.queue.keys.prioritized!, id);
    await redis.zadd(cp.queue.keys.failed!, Date.now(), id);
    expect(await cp.queue.getJobState(id)).toBe('failed');

    expect(await reconcileQueuedJobs({ ...cp }, 5000)).toBe(1);
    expect(await cp.queue.getJobState(id)).toBe('prioritized');
    expect(await cp.queue.getJobCountByTypes('prioritized')).toBe(BACKLOG + 1);
    expect(await cp.queue.getJobCountByTypes('failed')).toBe(0);
  });
});
