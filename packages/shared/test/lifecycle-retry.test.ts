/**
 * Issue 14, retries, in the lifecycle's one writer (jobs/lifecycle/retry.ts, sql/retry-job.ts)
 * against the real Postgres and Redis: an exit or end that meets the job's policy becomes
 * `running → queued` (or `queued → queued` for an offline agent) with the attempt on record, held
 * until `retry_at`; a job whose cancel is recorded is never retried; concurrent writers produce
 * exactly one winner and one event; the output fence refuses a stale attempt's chunks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import { BusSubscriber, publishJobEvent, type JobEvent } from '../src/bus/index.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { resolveRetryPolicy, type RetryPolicyInput } from '../src/domain/retry-policy.ts';
import { onTransition, transition, type JobChange, type JobTransition, type LifecycleDeps } from '../src/jobs/index.ts';
import { insertOutputBatch } from '../src/logsink/index.ts';
import { createLogger } from '../src/logger.ts';
import { createRedis, keys, type Redis } from '../src/redis.ts';

let testDb: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let database: Database;
let other: Database;
let redis: Redis;
let bus: BusSubscriber;
let cp: LifecycleDeps;
let cp2: LifecycleDeps;

beforeAll(async () => {
  testDb = await createTestDatabase('lifecycle_retry');
  prefix = createTestPrefix('lifecycle_retry');
  database = openDatabase(testDb.url, { max: 10 });
  other = openDatabase(testDb.url, { max: 10 });
  redis = createRedis(TEST_REDIS_URL);
  const k = keys(prefix.prefix);
  const log = createLogger('lifecycle-retry-test', 'silent');
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

const fixed = (delayMs: number, more: Partial<RetryPolicyInput> = {}): RetryPolicyInput => ({ max: 2, backoff: { type: 'fixed', delayMs }, ...more });

/** A job `running` its attempt `attempt` (or `queued` after it), with a retry policy. */
async function insertJob(policy: RetryPolicyInput | null, status: 'queued' | 'running' = 'running', attempt = 1, agentId: string | null = null): Promise<string> {
  const id = newId('job');
  await database.sql`
    insert into jobs (id, status, command, target, timeout_ms, attempt, started_at, worker_id, output_bytes, agent_id, retry)
    values (${id}, ${status}, 'true', '{"type":"local"}'::jsonb, 60000, ${attempt},
            case when ${status}::text = 'running' then clock_timestamp() end, 'w1', 7, ${agentId},
            ${policy ? JSON.stringify(resolveRetryPolicy(policy)) : null}::jsonb)`;
  return id;
}

const row = async (id: string) => (await database.sql`select status, attempt, retry_at, released_at, exit_code, error_code, cancel_reason, output_bytes, started_at, worker_id from jobs where id = ${id}`)[0]!;
const attempts = (id: string) => database.sql`select attempt, status, exit_code, error_code, output_bytes, worker_id, started_at, finished_at, retry_at from job_attempts where job_id = ${id} order by attempt`;
const failedExit = (attempt: number, exitCode = 1): JobChange => ({ kind: 'exit', attempt, exit: { exitCode, signal: null, truncated: false } });

async function observed(jobId: string, work: () => Promise<unknown>): Promise<{ seen: JobTransition[]; events: JobEvent[] }> {
  const seen: JobTransition[] = [];
  const events: JobEvent[] = [];
  const off = onTransition((t) => void (t.job.id === jobId && seen.push(t)));
  const unlisten = await bus.jobEvents(jobId, (msg) => events.push(msg));
  try {
    await work();
    await publishJobEvent(cp, jobId, { type: 'started', attempt: -1 });
    await waitFor('the marker event', () => events.some((e) => e.type === 'started' && e.attempt === -1));
  } finally {
    off();
    unlisten();
  }
  return { seen, events: events.filter((e) => e.type !== 'started') };
}

describe('retry as a transition', () => {
  it('an exit the policy retries: running → queued, held until retry_at, the attempt on record, one event, one observation', async () => {
    const id = await insertJob(fixed(5000));
    let job: Awaited<ReturnType<typeof transition>>;
    const { seen, events } = await observed(id, async () => (job = await transition(cp, id, failedExit(1, 3))));
    expect(job!).toMatchObject({ status: 'queued', attempt: 1, exitCode: null, outputBytes: 0, startedAt: null, workerId: null, releasedAt: null });
    expect(seen.map((t) => [t.from, t.to, t.kind])).toEqual([['running', 'queued', 'retry']]);
    expect(events).toEqual([{ v: 1, type: 'status', status: 'queued' }]);
    const [a] = await attempts(id);
    expect(a).toMatchObject({ attempt: 1, status: 'failed', exit_code: 3, error_code: null, worker_id: 'w1' });
    expect(Number(a!.output_bytes)).toBe(7);
    expect(a!.started_at).not.toBeNull();
    // The delay drawn is exactly retry_at − finished_at (one clock reading), and the row shows the same retry_at.
    const ms = (v: unknown) => new Date(v as string).getTime();
    expect(ms(a!.retry_at) - ms(a!.finished_at)).toBe(5000);
    expect(ms((await row(id)).retry_at)).toBe(ms(a!.retry_at));
    // Held: the start refuses it (no release yet), so it cannot run before retry_at.
    expect(await transition(cp, id, { kind: 'start', workerId: 'w2', checkedAgentId: null })).toBeUndefined();
  });

  it('the next start is attempt 2; past max retries the end is written as asked', async () => {
    const id = await insertJob(fixed(0, { max: 1 }));
    await transition(cp, id, failedExit(1));
    await database.sql`update jobs set released_at = clock_timestamp() where id = ${id}`; // as the release loop does
    expect(await transition(cp, id, { kind: 'start', workerId: 'w2', checkedAgentId: null })).toMatchObject({ status: 'running', attempt: 2 });
    // A stale exit of attempt 1 is refused by the fence.
    expect(await transition(cp, id, failedExit(1))).toBeUndefined();
    expect(await transition(cp, id, failedExit(2, 4))).toMatchObject({ status: 'failed', attempt: 2, exitCode: 4 });
    expect((await attempts(id)).map((a) => a.attempt)).toEqual([1]);
  });

  it('does not retry what the policy does not name, a success, a job without a policy, nor a cancel', async () => {
    const listed = await insertJob(fixed(0, { on: { exitCodes: [75] } }));
    expect(await transition(cp, listed, failedExit(1, 1))).toMatchObject({ status: 'failed' });
    const ok = await insertJob(fixed(0));
    expect(await transition(cp, ok, failedExit(1, 0))).toMatchObject({ status: 'succeeded' });
    const none = await insertJob(null);
    expect(await transition(cp, none, failedExit(1, 1))).toMatchObject({ status: 'failed' });
    // Canceled: the process died of the SIGTERM, and even one that exited non-zero on its own first.
    const canceled = await insertJob(fixed(0, { on: { exitCodes: 'nonzero', timedOut: true, lost: true } }));
    await database.sql`update jobs set cancel_reason = 'canceled' where id = ${canceled}`;
    expect(await transition(cp, canceled, { kind: 'exit', attempt: 1, exit: { exitCode: 1, signal: null, truncated: false, stopped: false } })).toMatchObject({ status: 'failed' });
    const killed = await insertJob(fixed(0, { on: { exitCodes: 'nonzero', timedOut: true, lost: true } }));
    await database.sql`update jobs set cancel_reason = 'canceled' where id = ${killed}`;
    expect(await transition(cp, killed, { kind: 'exit', attempt: 1, exit: { exitCode: null, signal: 'SIGTERM', truncated: false, stopped: true } })).toMatchObject({ status: 'canceled' });
    for (const id of [listed, ok, none, canceled, killed]) expect(await attempts(id)).toEqual([]);
  });

  it('timed out and lost when `on` says so; the recorded timeout is cleared for the next attempt', async () => {
    const timed = await insertJob(fixed(0, { on: { timedOut: true } }));
    await database.sql`update jobs set cancel_reason = 'timed_out', cancel_requested_at = clock_timestamp() where id = ${timed}`;
    expect(await transition(cp, timed, { kind: 'exit', attempt: 1, exit: { exitCode: null, signal: 'SIGTERM', truncated: false, stopped: true } })).toMatchObject({ status: 'queued', cancelReason: null, cancelRequestedAt: null });
    expect((await attempts(timed))[0]).toMatchObject({ status: 'timed_out' });
    const lost = await insertJob(fixed(0, { on: { lost: true } }));
    expect(await transition(cp, lost, { kind: 'end', from: 'running', attempt: 1, status: 'lost', error: { code: 'agent_lost', message: 'gone' } })).toMatchObject({ status: 'queued' });
    expect((await attempts(lost))[0]).toMatchObject({ status: 'lost', error_code: 'agent_lost' });
    const notLost = await insertJob(fixed(0));
    expect(await transition(cp, notLost, { kind: 'end', from: 'running', attempt: 1, status: 'lost', error: { code: 'agent_lost', message: 'gone' } })).toMatchObject({ status: 'lost' });
  });

  it('an agent offline past the dispatch timeout with on.agentOffline: queued → queued, the unstarted attempt used up', async () => {
    const id = await insertJob(fixed(0, { on: { agentOffline: true } }), 'queued', 0, 'agt_x');
    const { seen } = await observed(id, async () => {
      expect(await transition(cp, id, { kind: 'end', from: 'queued', status: 'failed', error: { code: 'agent_offline', message: 'offline' } })).toMatchObject({ status: 'queued', attempt: 1 });
    });
    expect(seen.map((t) => [t.from, t.to, t.kind])).toEqual([['queued', 'queued', 'retry']]);
    expect((await attempts(id))[0]).toMatchObject({ attempt: 1, status: 'failed', error_code: 'agent_offline', started_at: null });
    // Never for a revoked agent.
    const revoked = await insertJob(fixed(0, { on: { agentOffline: true, exitCodes: 'nonzero' } }), 'queued', 0, 'agt_x');
    expect(await transition(cp, revoked, { kind: 'end', from: 'queued', status: 'failed', error: { code: 'agent_revoked', message: 'revoked' } })).toMatchObject({ status: 'failed' });
  });

  it('a retry and a cancel racing: exactly one wins, and a canceled job is never retried', async () => {
    for (let i = 0; i < 10; i++) {
      const id = await insertJob(fixed(0, { on: { exitCodes: 'nonzero', timedOut: true } }));
      const { seen, events } = await observed(id, () =>
        Promise.all([transition(cp, id, failedExit(1)), transition(cp2, id, { kind: 'end', from: 'running', attempt: 1, status: 'canceled' })]),
      );
      expect(seen).toHaveLength(1);
      expect(events).toHaveLength(1);
      const r = await row(id);
      expect(['queued', 'canceled']).toContain(r.status);
      expect((await attempts(id)).length).toBe(r.status === 'queued' ? 1 : 0);
    }
  });

  it('ten concurrent exits of one attempt: one retry, one record, one event', async () => {
    const id = await insertJob(fixed(0));
    const { seen, events } = await observed(id, () => Promise.all(Array.from({ length: 10 }, (_, i) => transition(i % 2 ? cp : cp2, id, failedExit(1)))));
    expect(seen.map((t) => t.kind)).toEqual(['retry']);
    expect(events).toHaveLength(1);
    expect(await attempts(id)).toHaveLength(1);
  });
});

describe('the output fence', () => {
  it('refuses a stale attempt\'s late output: not stored in the next attempt, not counted in it', async () => {
    const id = await insertJob(fixed(0));
    const chunk = (attempt: number, seq: number, text: string) => ({ jobId: id, attempt, seq, stream: 1 as const, data: Buffer.from(text) });
    expect((await insertOutputBatch(database.sql, [chunk(1, 0, 'one-0')])).size).toBe(1);
    await transition(cp, id, failedExit(1));
    // Late output of attempt 1 after its retry: refused (the job waits for attempt 2).
    expect((await insertOutputBatch(database.sql, [chunk(1, 1, 'one-1 late')])).size).toBe(0);
    await database.sql`update jobs set released_at = clock_timestamp() where id = ${id}`;
    await transition(cp, id, { kind: 'start', workerId: 'w2', checkedAgentId: null });
    // Attempt 2 writes its own seq 0; attempt 1's seq 2 arriving now is refused too.
    const stored = await insertOutputBatch(database.sql, [chunk(2, 0, 'two-0'), chunk(1, 2, 'one-2 later')]);
    expect([...stored]).toEqual([`${id}:2:0`]);
    const rows = await database.sql<{ attempt: number; seq: number; text: string }[]>`select attempt, seq, convert_from(data, 'utf8') as text from job_output where job_id = ${id} order by attempt, seq`;
    expect(rows).toEqual([
      { attempt: 1, seq: 0, text: 'one-0' },
      { attempt: 2, seq: 0, text: 'two-0' },
    ]);
    expect(Number((await row(id)).output_bytes)).toBe(5);
    expect(Number((await attempts(id))[0]!.output_bytes)).toBe(7 + 5);
  });
});
