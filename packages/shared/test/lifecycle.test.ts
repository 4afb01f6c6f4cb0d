/**
 * The job lifecycle (jobs/lifecycle) against the real Postgres and Redis: the table refuses what
 * it does not allow before anything is written; of concurrent writers exactly one wins, and only
 * its event goes on the bus; every transition that wins is observed once; `rowToJob` maps every
 * column of the table the way drizzle does.
 */
import { eq, getTableColumns } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import { BusSubscriber, publishJobEvent, type JobEvent } from '../src/bus/index.ts';
import { jobs, openDatabase, type Database } from '../src/db/index.ts';
import { TERMINAL_STATUSES, type JobStatus, type TerminalStatus } from '../src/domain/job-status.ts';
import { newId } from '../src/domain/ids.ts';
import { IllegalTransitionError, onTransition, rowToJob, transition, type JobChange, type JobTransition, type LifecycleDeps } from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';
import { createRedis, keys, type Redis } from '../src/redis.ts';

let testDb: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let database: Database;
/** A second pool: concurrent writers from two "processes". */
let other: Database;
let redis: Redis;
let bus: BusSubscriber;
let cp: LifecycleDeps;
let cp2: LifecycleDeps;

beforeAll(async () => {
  testDb = await createTestDatabase('lifecycle');
  prefix = createTestPrefix('lifecycle');
  database = openDatabase(testDb.url, { max: 10 });
  other = openDatabase(testDb.url, { max: 10 });
  redis = createRedis(TEST_REDIS_URL);
  const k = keys(prefix.prefix);
  const log = createLogger('lifecycle-test', 'silent');
  cp = { database, redis, keys: k, log };
  cp2 = { database: other, redis, keys: k, log };
  bus = BusSubscriber.open(TEST_REDIS_URL, k);
});

afterAll(async () => {
  bus?.close();
  redis?.disconnect();
  await database?.close();
  await other?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

async function insertJob(status: JobStatus = 'queued', over: { attempt?: number; agentId?: string | null } = {}): Promise<string> {
  const id = newId('job');
  await database.sql`
    insert into jobs (id, status, command, target, timeout_ms, attempt, agent_id, started_at)
    values (${id}, ${status}, 'true', '{"type":"local"}'::jsonb, 60000, ${over.attempt ?? (status === 'queued' ? 0 : 1)}, ${over.agentId ?? null},
            case when ${status}::text = 'queued' then null else clock_timestamp() end)`;
  return id;
}

async function statusOf(jobId: string): Promise<JobStatus> {
  const [row] = await database.sql<{ status: JobStatus }[]>`select status from jobs where id = ${jobId}`;
  return row!.status;
}

/**
 * Every event published for the job until now. Redis keeps the order of one connection's
 * commands, and every transition publishes on `redis`: a marker published there after the writers
 * are done arrives after anything they published, so nothing that is still on its way is missed.
 */
async function eventsOf(jobId: string, work: () => Promise<unknown>): Promise<Exclude<JobEvent, { type: 'started' }>[]> {
  const seen: JobEvent[] = [];
  const unlisten = await bus.jobEvents(jobId, (msg) => seen.push(msg));
  try {
    await work();
    await publishJobEvent(cp, jobId, { type: 'started', attempt: -1 });
    await waitFor('the marker event', () => seen.some((e) => e.type === 'started' && e.attempt === -1));
  } finally {
    unlisten();
  }
  return seen.filter((e): e is Exclude<JobEvent, { type: 'started' }> => e.type !== 'started');
}

/** The transitions observers see while `work` runs, for the given job. */
async function observed(jobId: string, work: () => Promise<unknown>): Promise<JobTransition[]> {
  const seen: JobTransition[] = [];
  const off = onTransition((t) => void (t.job.id === jobId && seen.push(t)));
  try {
    await work();
  } finally {
    off();
  }
  return seen;
}

describe('the transition table', () => {
  it.each<[string, JobStatus, JobChange]>([
    ['queued → succeeded (a job that never ran cannot succeed)', 'queued', { kind: 'end', from: 'queued', status: 'succeeded' }],
    ['queued → lost', 'queued', { kind: 'end', from: 'queued', status: 'lost' }],
    ['a terminal status → another', 'failed', { kind: 'end', from: 'failed', attempt: 1, status: 'lost' } as unknown as JobChange],
    ['running → running', 'running', { kind: 'end', from: 'running', attempt: 1, status: 'running' } as unknown as JobChange],
  ])('refuses %s: typed error, nothing written, no event, no observer', async (_what, status, change) => {
    const jobId = await insertJob(status);
    let error: unknown;
    const events = await eventsOf(jobId, async () => {
      const seen = await observed(jobId, () => transition(cp, jobId, change).catch((err: unknown) => (error = err)));
      expect(seen).toEqual([]);
    });
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect((error as IllegalTransitionError).code).toBe('illegal_transition');
    expect(await statusOf(jobId)).toBe(status);
    expect(events).toEqual([]);
  });

  it('a change that does not match the row loses: undefined, nothing written, nothing published', async () => {
    const jobId = await insertJob('running', { attempt: 2 });
    const events = await eventsOf(jobId, async () => {
      // A stale attempt (fencing), and a start of a job that is not queued.
      expect(await transition(cp, jobId, { kind: 'end', from: 'running', attempt: 1, status: 'lost' })).toBeUndefined();
      expect(await transition(cp, jobId, { kind: 'start', workerId: 'w', checkedAgentId: null })).toBeUndefined();
    });
    expect(await statusOf(jobId)).toBe('running');
    expect(events).toEqual([]);
  });

  it('starts an agent job only for the agent whose presence was checked', async () => {
    const jobId = await insertJob('queued', { agentId: 'agt_a' });
    expect(await transition(cp, jobId, { kind: 'start', workerId: 'w', checkedAgentId: null })).toBeUndefined();
    expect(await transition(cp, jobId, { kind: 'start', workerId: 'w', checkedAgentId: 'agt_b' })).toBeUndefined();
    expect(await transition(cp, jobId, { kind: 'start', workerId: 'w', checkedAgentId: 'agt_a' })).toMatchObject({ status: 'running', attempt: 1, workerId: 'w' });
  });
});

describe('one writer wins', () => {
  it('20 concurrent writers of different terminal statuses: exactly one wins, one end event, one observation', async () => {
    const jobId = await insertJob('running', { attempt: 1 });
    const changes: JobChange[] = Array.from({ length: 20 }, (_, i): JobChange => {
      // Every status a running job may end in (all terminal ones but `skipped`, which only a queued child reaches).
      const ends = TERMINAL_STATUSES.filter((t) => t !== 'skipped');
      const status: TerminalStatus = ends[i % ends.length]!;
      if (i % 4 === 3) return { kind: 'exit', attempt: 1, exit: { exitCode: i, signal: null, truncated: false } };
      return { kind: 'end', from: 'running', attempt: 1, status, error: { code: 'internal', message: `writer ${i}` } };
    });
    let results: (unknown | undefined)[] = [];
    let seen: JobTransition[] = [];
    const events = await eventsOf(jobId, async () => {
      seen = await observed(jobId, async () => {
        results = await Promise.all(changes.map((change, i) => transition(i % 2 === 0 ? cp : cp2, jobId, change)));
      });
    });
    const winners = results.filter((r) => r !== undefined) as { status: TerminalStatus; exitCode: number | null; signal: string | null }[];
    expect(winners).toHaveLength(1);
    const won = winners[0]!;
    expect(await statusOf(jobId)).toBe(won.status);
    expect(events).toEqual([{ v: 1, type: 'end', status: won.status, exitCode: won.exitCode, signal: won.signal }]);
    expect(seen.map((t) => [t.from, t.to])).toEqual([['running', won.status]]);
  });

  it('a stop of a queued job and a start race: exactly one wins, every time', async () => {
    for (let round = 0; round < 10; round++) {
      const jobId = await insertJob('queued');
      const [stopped, started] = await Promise.all([
        transition(cp, jobId, { kind: 'stop_queued', reason: 'canceled' }),
        transition(cp2, jobId, { kind: 'start', workerId: 'w', checkedAgentId: null }),
      ]);
      expect([stopped, started].filter(Boolean)).toHaveLength(1);
      expect(await statusOf(jobId)).toBe(stopped ? 'canceled' : 'running');
    }
  });
});

describe('observers and events', () => {
  it('an observer sees each transition of a job once, after its event is on the bus', async () => {
    const jobId = await insertJob('queued');
    let seen: JobTransition[] = [];
    const events = await eventsOf(jobId, async () => {
      seen = await observed(jobId, async () => {
        await transition(cp, jobId, { kind: 'start', workerId: 'w', checkedAgentId: null });
        await transition(cp, jobId, { kind: 'exit', attempt: 1, exit: { exitCode: 0, signal: null, truncated: false } });
        // Repeats lose, and are not observed again.
        await transition(cp, jobId, { kind: 'start', workerId: 'w', checkedAgentId: null });
        await transition(cp, jobId, { kind: 'exit', attempt: 1, exit: { exitCode: 0, signal: null, truncated: false } });
      });
    });
    expect(seen.map((t) => [t.kind, t.from, t.to, t.job.status])).toEqual([
      ['start', 'queued', 'running', 'running'],
      ['exit', 'running', 'succeeded', 'succeeded'],
    ]);
    expect(events).toEqual([
      { v: 1, type: 'status', status: 'running' },
      { v: 1, type: 'end', status: 'succeeded', exitCode: 0, signal: null },
    ]);
  });

  it('an observer that throws changes nothing: the transition stands and the next observer is told', async () => {
    const jobId = await insertJob('queued');
    const offBad = onTransition(() => {
      throw new Error('observer bug');
    });
    try {
      const seen = await observed(jobId, () => transition(cp, jobId, { kind: 'stop_queued', reason: 'canceled' }));
      expect(seen.map((t) => t.to)).toEqual(['canceled']);
      expect(await statusOf(jobId)).toBe('canceled');
    } finally {
      offBad();
    }
  });

  it('exit: a recorded stop wins when the process was signalled first, not when it exited first', async () => {
    const signalled = await insertJob('running', { attempt: 1 });
    const exitedFirst = await insertJob('running', { attempt: 1 });
    await database.sql`update jobs set cancel_reason = 'timed_out' where id in ${database.sql([signalled, exitedFirst])}`;
    const a = await transition(cp, signalled, { kind: 'exit', attempt: 1, exit: { exitCode: null, signal: 'SIGTERM', truncated: false, stopped: true } });
    const b = await transition(cp, exitedFirst, { kind: 'exit', attempt: 1, exit: { exitCode: 0, signal: null, truncated: false, stopped: false } });
    expect([a?.status, b?.status]).toEqual(['timed_out', 'succeeded']);
  });
});

describe('rowToJob', () => {
  it("has exactly the table's fields, with the values drizzle's own select gives", async () => {
    const jobId = await insertJob('running', { attempt: 3, agentId: 'agt_x' });
    await database.sql`
      update jobs set accepted_at = clock_timestamp(), cancel_reason = 'canceled', cancel_requested_at = clock_timestamp(),
        cancel_grace_ms = 5, output_bytes = 12345, labels = '{"a":"b"}'::jsonb, env = '{"E":"1"}'::jsonb, finished_at = clock_timestamp()
      where id = ${jobId}`;
    const [raw] = await database.sql`select * from jobs where id = ${jobId}`;
    const mapped = rowToJob(raw!);
    expect(Object.keys(mapped).sort()).toEqual(Object.keys(getTableColumns(jobs)).sort());
    const [viaDrizzle] = await database.db.select().from(jobs).where(eq(jobs.id, jobId));
    expect(mapped).toEqual(viaDrizzle);
    expect(mapped.outputBytes).toBe(12345);
    expect(mapped.acceptedAt).toBeInstanceOf(Date);
  });

  it('refuses a row without every column', async () => {
    const jobId = await insertJob();
    const [narrow] = await database.sql`select id, status from jobs where id = ${jobId}`;
    expect(() => rowToJob(narrow!)).toThrow(/no column command/);
  });
});
