/**
 * What an asynchronous Postgres failover leaves of a local job's record, and how the worker that
 * ran it repairs it (own-jobs.ts, lost-worker-sweep.ts, process-job.ts). The promoted standby
 * lacks the last writes the old primary acknowledged; here the test plays that loss on a real
 * Postgres by writing the row back to what the standby would hold:
 *
 * - the END lost: the row says `running` under a live worker that holds the job no more. The
 *   worker's own-jobs sweep writes the end it remembers (else `lost`); a job it still holds, and
 *   the jobs of another live worker, are left alone;
 * - the START lost while the command runs: the row says `queued` at the earlier attempt when the
 *   command exits. The worker records the run (start and exit) instead of leaving the job for the
 *   reconciler to run a second time;
 * - both lost after the command ended: handed out again to the same worker, the job is not run
 *   again; its remembered end is written.
 *
 * (services/api/test/ha/postgres-async-failover-ends.test.ts: the same through a real failover.)
 */
import { writeFileSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { openDatabase, type Database } from '@vmo/shared/db';
import { newId } from '@vmo/shared/ids';
import { LogSink } from '@vmo/shared/logsink';
import { createJobQueue, type QueuedJobData } from '@vmo/shared/queue';
import { createRedis, keys, type Redis } from '@vmo/shared/redis';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import type { Executor } from '../src/executors/executor.ts';
import { createLocalExecutor } from '../src/executors/local.ts';
import { LostWorkerSweep } from '../src/lost-worker-sweep.ts';
import { OwnJobs } from '../src/own-jobs.ts';
import { createJobProcessor } from '../src/process-job.ts';
import { StopRegistry } from '../src/stop-registry.ts';
import { markWorkerAlive } from '../src/worker-presence.ts';

const log = pino({ level: 'silent' });
const ME = 'test-host:1:aaaaaa';
const OTHER = 'test-host:2:bbbbbb';

let testDb: TestDatabase;
let database: Database;
let prefix: ReturnType<typeof createTestPrefix>;
let redis: Redis;
let cp: ControlPlane;
let sink: LogSink;
let scratch: string;

beforeAll(async () => {
  testDb = await createTestDatabase('own_jobs_failover');
  database = openDatabase(testDb.url, { max: 4 });
  prefix = createTestPrefix('own-jobs-failover');
  redis = createRedis(TEST_REDIS_URL);
  const k = keys(prefix.prefix);
  const queue = createJobQueue(createRedis(TEST_REDIS_URL), k.bullPrefix);
  cp = { database, redis, queue, keys: k, log, limits: { maxOutputBytes: 1 << 20, tailBytes: 1 << 16, agentGraceMs: 60_000, heartbeatMs: 1000 } };
  sink = new LogSink({ sql: database.sql, bus: cp, log });
  scratch = mkdtempSync(join(tmpdir(), 'vmo-own-jobs-'));
}, 90_000);

afterAll(async () => {
  await sink?.close();
  await cp?.queue.close();
  redis?.disconnect();
  await database?.close();
  await testDb?.drop();
  await prefix?.cleanup();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A local job `running` under `workerId` since a minute ago, at attempt 1. */
async function runningJob(workerId: string): Promise<string> {
  const id = newId('job');
  await database.sql`
    insert into jobs (id, status, command, target, timeout_ms, created_at, released_at, started_at, attempt, worker_id)
    values (${id}, 'running', 'true', '{"type":"local"}'::jsonb, 60000, clock_timestamp() - interval '2 minutes', clock_timestamp() - interval '2 minutes',
            clock_timestamp() - interval '1 minute', 1, ${workerId})`;
  return id;
}

const rowOf = async (id: string) =>
  (await database.sql<{ status: string; attempt: number; exit_code: number | null; error_code: string | null; worker_id: string | null }[]>`
    select status, attempt, exit_code, error_code, worker_id from jobs where id = ${id}`)[0]!;

describe('the own-jobs sweep: a `running` row under this live worker that it does not hold', () => {
  it('ends with the end the worker wrote (exit 3: failed), else lost (worker_lost); a held job and another live worker\'s job stay running', async () => {
    const own = new OwnJobs();
    const remembered = await runningJob(ME);
    own.remember(remembered, 1, { kind: 'exit', attempt: 1, exit: { exitCode: 3, signal: null, truncated: false, stopped: false } });
    const forgotten = await runningJob(ME);
    const held = await runningJob(ME);
    own.hold(held);
    const others = await runningJob(OTHER);
    await markWorkerAlive(redis, cp.keys, OTHER, 60_000);

    await new LostWorkerSweep(cp, 1000, { workerId: ME, jobs: own }).run();

    expect(await rowOf(remembered)).toMatchObject({ status: 'failed', exit_code: 3, attempt: 1 });
    expect(await rowOf(forgotten)).toMatchObject({ status: 'lost', error_code: 'worker_lost', attempt: 1 });
    expect((await rowOf(held)).status).toBe('running');
    expect((await rowOf(others)).status).toBe('running');

    // Released (its delivery is over, its end was lost): ended at the next pass.
    own.release(held);
    await new LostWorkerSweep(cp, 1000, { workerId: ME, jobs: own }).run();
    expect((await rowOf(held)).status).toBe('lost');
    expect((await rowOf(others)).status).toBe('running');
  });
});

describe('a job whose start was lost while its command ran', () => {
  it('is recorded as the run it was (started again, attempt 1, ended with its exit) and its command runs once', async () => {
    const fail: Executor = { run: () => Promise.reject(new Error('not in this test')) };
    const own = new OwnJobs();
    const processJob = createJobProcessor({
      cp,
      sink,
      registry: new StopRegistry(),
      own,
      executors: { local: createLocalExecutor(), agent: fail, ssh: fail },
      workerId: ME,
      dispatchTimeoutMs: 60_000,
      shutdown: new AbortController().signal,
    });
    const runs = join(scratch, 'runs');
    const go = join(scratch, 'go');
    const id = newId('job');
    await database.sql`
      insert into jobs (id, status, command, target, timeout_ms, created_at, released_at)
      values (${id}, 'queued', ${`echo "$VMO_JOB_ID" >> '${runs}'; while [ ! -e '${go}' ]; do sleep 0.05; done; exit 0`}, '{"type":"local"}'::jsonb, 60000, clock_timestamp(), clock_timestamp())`;
    const processing = processJob({ data: { jobId: id, agentId: null } } as unknown as Job<QueuedJobData>, 'token');
    await waitFor('the command to run', () => existsSync(runs) || undefined, 20_000, 20);
    expect(own.holds(id)).toBe(true);
    // The failover: the promoted standby never had the start.
    await database.sql`update jobs set status = 'queued', attempt = 0, worker_id = null, started_at = null where id = ${id}`;
    writeFileSync(go, '');
    await processing;
    expect(own.holds(id)).toBe(false);
    expect(await rowOf(id)).toMatchObject({ status: 'succeeded', exit_code: 0, attempt: 1, worker_id: ME });
    expect(readFileSync(runs, 'utf8').trim().split('\n')).toEqual([id]);

    // Both its start and its end lost (the row back at `queued`, attempt 0) after it ran: handed
    // out again (the reconciler), to this worker, it is not run a second time.
    await database.sql`update jobs set status = 'queued', attempt = 0, worker_id = null, started_at = null, finished_at = null, exit_code = null where id = ${id}`;
    await processJob({ data: { jobId: id, agentId: null } } as unknown as Job<QueuedJobData>, 'token');
    expect(await rowOf(id)).toMatchObject({ status: 'succeeded', exit_code: 0, attempt: 1, worker_id: ME });
    expect(readFileSync(runs, 'utf8').trim().split('\n')).toEqual([id]);
  });
});
