/**
 * Issue 10, "Per-target concurrency": the gate in the `start` transition
 * (jobs/lifecycle/sql/start-job.ts) against the real Postgres, with many writers at once from two
 * pools (two "workers"): a limited target never runs more than its limit, the jobs let through are
 * the first in (created_at, id) order, `queuePosition` counts the released jobs ahead, and a
 * target without a limit still starts a job in one statement.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import { openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { getJob, getJobWithPosition, lookAtGate, queuePositions, transition, type LifecycleDeps } from '../src/jobs/index.ts';
import { startJob } from '../src/jobs/lifecycle/sql/start-job.ts';
import { createLogger } from '../src/logger.ts';
import { createRedis, keys, type Redis } from '../src/redis.ts';

let testDb: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let database: Database;
let other: Database;
let redis: Redis;
let cp: LifecycleDeps;
let cp2: LifecycleDeps;

beforeAll(async () => {
  testDb = await createTestDatabase('target_gate');
  prefix = createTestPrefix('target_gate');
  database = openDatabase(testDb.url, { max: 10 });
  other = openDatabase(testDb.url, { max: 10 });
  redis = createRedis(TEST_REDIS_URL);
  const k = keys(prefix.prefix);
  const log = createLogger('target-gate-test', 'silent');
  cp = { database, redis, keys: k, log };
  cp2 = { database: other, redis, keys: k, log };
});

afterAll(async () => {
  redis?.disconnect();
  await database?.close();
  await other?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

async function agent(limit: number | null): Promise<string> {
  const id = newId('agt');
  await database.sql`insert into agents (id, name, token_hash, max_concurrent_jobs) values (${id}, ${id}, ${id}, ${limit})`;
  return id;
}

async function host(limit: number | null): Promise<string> {
  const id = newId('host');
  await database.sql`insert into hosts (id, name, host, "user", max_concurrent_jobs) values (${id}, ${id}, '127.0.0.1', 'u', ${limit})`;
  return id;
}

/** Queued jobs on the target, inserted one after the other (so created_at is in this order). */
async function queued(n: number, target: { agentId?: string; hostId?: string }, over: { released?: boolean } = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = newId('job');
    const json = target.agentId ? { type: 'agent', agent: target.agentId } : { type: 'ssh', host: target.hostId };
    await database.sql`
      insert into jobs (id, status, command, target, timeout_ms, agent_id, host_id, released_at)
      values (${id}, 'queued', 'true', ${JSON.stringify(json)}::jsonb, 60000, ${target.agentId ?? null}, ${target.hostId ?? null},
              ${over.released === false ? null : database.sql`clock_timestamp()`})`;
    ids.push(id);
  }
  return ids;
}

/** Every job tries to start, several times, from both pools at once, in a shuffled order. */
async function stampede(ids: string[], agentId: string | null): Promise<string[]> {
  const attempts = [...ids, ...ids, ...ids].map((id, i) => ({ id, via: i % 2 === 0 ? cp : cp2 })).sort(() => Math.random() - 0.5);
  const won = await Promise.all(attempts.map(({ id, via }) => transition(via, id, { kind: 'start', workerId: `w-${id}`, checkedAgentId: agentId })));
  return won.filter((j) => j !== undefined).map((j) => j!.id);
}

const statuses = async (ids: string[]) => (await database.sql<{ id: string; status: string }[]>`select id, status from jobs where id in ${database.sql(ids)}`).reduce(
  (m, r) => m.set(r.id, r.status),
  new Map<string, string>(),
);

describe('the target gate in the start transition', () => {
  it('lets exactly `limit` jobs of an agent start under a stampede of starts from two pools, the first ones in', async () => {
    const agentId = await agent(3);
    const ids = await queued(12, { agentId });
    const won = await stampede(ids, agentId);
    expect(won.sort()).toEqual(ids.slice(0, 3).sort());
    const now = await statuses(ids);
    expect(ids.map((id) => now.get(id))).toEqual([...Array(3).fill('running'), ...Array(9).fill('queued')]);

    // Waiting ones are in line, 0 for the next one.
    const rows = (await Promise.all(ids.map((id) => getJob(database.sql, id)))).map((r) => r!);
    const positions = await queuePositions(database.sql, rows);
    expect(ids.map((id) => positions.get(id) ?? null)).toEqual([null, null, null, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await lookAtGate(database.sql, ids[5]!)).toMatchObject({ limit: 3, running: 3, ahead: 2 });

    // One ends: exactly one more starts, the next in line, however many try.
    const first = rows[0]!;
    expect(await transition(cp, first.id, { kind: 'end', from: 'running', attempt: 1, status: 'succeeded' })).toBeDefined();
    expect(await stampede(ids.slice(3), agentId)).toEqual([ids[3]]);

    // A queued job that leaves the line (canceled) moves the rest up, and lets nobody through by itself.
    expect(await transition(cp, ids[4]!, { kind: 'stop_queued', reason: 'canceled' })).toBeDefined();
    expect(await stampede(ids.slice(5), agentId)).toEqual([]);
    const after = await queuePositions(database.sql, (await Promise.all(ids.slice(5).map((id) => getJob(database.sql, id)))).map((r) => r!));
    expect(ids.slice(5).map((id) => after.get(id))).toEqual([0, 1, 2, 3, 4, 5, 6]);

    // A higher limit lets as many more through, in order.
    await database.sql`update agents set max_concurrent_jobs = 5 where id = ${agentId}`;
    expect((await stampede(ids.slice(5), agentId)).sort()).toEqual(ids.slice(5, 7).sort());
    // No limit at all: everything left starts.
    await database.sql`update agents set max_concurrent_jobs = null where id = ${agentId}`;
    expect((await stampede(ids.slice(7), agentId)).sort()).toEqual(ids.slice(7).sort());
  });

  it('gates SSH jobs on their host the same way', async () => {
    const hostId = await host(2);
    const ids = await queued(6, { hostId });
    expect((await stampede(ids, null)).sort()).toEqual(ids.slice(0, 2).sort());
    const rows = (await Promise.all(ids.map((id) => getJob(database.sql, id)))).map((r) => r!);
    const positions = await queuePositions(database.sql, rows);
    expect(ids.map((id) => positions.get(id) ?? null)).toEqual([null, null, 0, 1, 2, 3]);
    // The look at the gate counts by the host's own column too (line.ts: the CASE's host branch).
    expect(await lookAtGate(database.sql, ids[3]!)).toMatchObject({ limit: 2, running: 2, ahead: 1 });
  });

  it('does not count jobs held by their run (not released): they are not in line', async () => {
    const agentId = await agent(1);
    const held = await queued(2, { agentId }, { released: false });
    const released = await queued(1, { agentId });
    expect(await stampede(released, agentId)).toEqual(released);
    const rows = (await Promise.all(held.map((id) => getJob(database.sql, id)))).map((r) => r!);
    expect((await queuePositions(database.sql, rows)).size).toBe(0);
  });

  it('holds against a child released out of order: a start racing another worker\'s start of an earlier job waits for the target\'s lock', async () => {
    // The case the count alone cannot settle: a run's child created before a single job but
    // released after it. "Another worker" (connection x) has released the child and is starting
    // it, not yet committed; the single job's gate, if it read the jobs now, would see the child
    // neither running nor released, count nothing and start too: two running under a limit of 1.
    const agentId = await agent(1);
    const [child] = await queued(1, { agentId }, { released: false });
    const [single] = await queued(1, { agentId });
    const x = postgres(testDb.url, { max: 1, onnotice: () => {} });
    try {
      let commit!: () => void;
      const committed = new Promise<void>((resolve) => (commit = resolve));
      let inside!: () => void;
      const holding = new Promise<void>((resolve) => (inside = resolve));
      const otherWorker = x.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtextextended(${'target:' + agentId}, 0))`;
        await tx`update jobs set released_at = clock_timestamp(), status = 'running', attempt = 1, started_at = clock_timestamp() where id = ${child!}`;
        inside();
        await committed;
      });
      await holding;
      const start = transition(cp, single!, { kind: 'start', workerId: 'w', checkedAgentId: agentId });
      // It must wait for the lock (seen in pg_locks), not decide on what it reads now.
      const outcome = await Promise.race([
        start.then(() => 'decided' as const),
        waitFor('the start to wait for the target lock', async () => {
          const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`;
          return row!.n > 0 ? ('waiting' as const) : undefined;
        }, 20_000),
      ]);
      commit();
      await otherWorker;
      expect(outcome).toBe('waiting');
      expect(await start).toBeUndefined();
      const now = await statuses([child!, single!]);
      expect([now.get(child!), now.get(single!)]).toEqual(['running', 'queued']);
    } finally {
      await x.end();
    }
  });

  it('GET /v1/jobs/{id} reads a job and its queuePosition in one statement, with or without a limit on its target', async () => {
    const statements: string[] = [];
    const sql = postgres(testDb.url, { max: 1, onnotice: () => {}, debug: (_conn, query) => void statements.push(query) });
    try {
      await sql`select 1`; // the connection's own setup is not the read's
      const read = async (id: string) => {
        statements.length = 0;
        const found = await getJobWithPosition(sql, id);
        expect(statements).toHaveLength(1);
        return found;
      };
      // Limited: the place in line, as queuePositions counts it.
      const limited = await agent(1);
      const [first, second, third] = await queued(3, { agentId: limited });
      expect(await transition(cp, first!, { kind: 'start', workerId: 'w', checkedAgentId: limited })).toBeDefined();
      expect(await read(third!)).toMatchObject({ job: { id: third, status: 'queued' }, queuePosition: 1 });
      expect(await read(second!)).toMatchObject({ queuePosition: 0 });
      expect(await read(first!)).toMatchObject({ job: { status: 'running' }, queuePosition: null });
      // Limited host, the same by its own column.
      const limitedHost = await host(1);
      const [h1, h2] = await queued(2, { hostId: limitedHost });
      expect((await read(h2!))?.queuePosition).toBe(1);
      expect((await read(h1!))?.queuePosition).toBe(0);
      // No limit: no position, and still the one statement.
      const [free] = await queued(1, { agentId: await agent(null) });
      expect(await read(free!)).toMatchObject({ job: { id: free, status: 'queued' }, queuePosition: null });
      // A run's held child is not in line.
      const [held] = await queued(1, { agentId: limited }, { released: false });
      expect(await read(held!)).toMatchObject({ queuePosition: null });
      // Unknown: nothing.
      expect(await read(newId('job'))).toBeUndefined();
    } finally {
      await sql.end();
    }
  });

  it('a job on a target without a limit starts in one statement, as before limits existed; a limited one under the lock', async () => {
    const statements: string[] = [];
    const sql = postgres(testDb.url, { max: 1, onnotice: () => {}, debug: (_conn, query) => void statements.push(query) });
    try {
      const free = await agent(null);
      const [freeJob] = await queued(1, { agentId: free });
      await sql`select 1`; // the connection's own setup (postgres.js reads the array types once) is not the start's
      statements.length = 0;
      expect(await startJob(sql, freeJob!, 'w', free)).toMatchObject({ id: freeJob, status: 'running' });
      expect(statements).toHaveLength(1);

      statements.length = 0;
      const limited = await agent(1);
      const [limitedJob] = await queued(1, { agentId: limited });
      expect(await startJob(sql, limitedJob!, 'w', limited)).toMatchObject({ id: limitedJob, status: 'running' });
      expect(statements.some((s) => s.includes('pg_advisory_xact_lock'))).toBe(true);
    } finally {
      await sql.end();
    }
  });
});
