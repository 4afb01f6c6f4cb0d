/**
 * The rule for agent presence `unknown` (presence/agent-presence.ts), with Redis really unreachable
 * from the worker's command connection (a TCP proxy, cut): no caller reaches a verdict on a
 * presence nobody could read.
 *
 * - dispatch: the job stays `queued` (never started, never failed `agent_offline`), and is looked at
 *   again; once Redis answers `offline` past the dispatch timeout it fails, `online` it starts;
 * - the janitor and the executor waiting on a running agent job: never `lost` while unknown, `lost`
 *   once Redis answers `offline` past the grace.
 *
 * BullMQ itself keeps a direct connection: this is about what the presence answer makes each caller do.
 */
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BusSubscriber } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { openDatabase, type Database } from '@vmo/shared/db';
import { newId } from '@vmo/shared/ids';
import { getJob } from '@vmo/shared/jobs';
import { LogSink } from '@vmo/shared/logsink';
import { createJobQueue, enqueueJob, JOB_QUEUE, type QueuedJobData } from '@vmo/shared/queue';
import { createRedis, keys, type Keys, type Redis } from '@vmo/shared/redis';
import { createTestDatabase, createTestPrefix, redisViaProxy, TEST_REDIS_URL, waitFor, type RedisViaProxy, type TestDatabase } from '@vmo/testkit';
import { agentExecutor } from '../src/executors/agent.ts';
import { createLocalExecutor } from '../src/executors/local.ts';
import { sweepRunningAgentJobs } from '../src/janitor.ts';
import { createJobProcessor } from '../src/process-job.ts';
import { StopRegistry } from '../src/stop-registry.ts';

const log = pino({ level: 'silent' });
const GRACE_MS = 400;

let testDb: TestDatabase;
let database: Database;
let prefix: ReturnType<typeof createTestPrefix>;
let k: Keys;
let direct: Redis;
/** Like a service's command connection, through a proxy the tests cut and stall. */
let redisLink: RedisViaProxy;
let cp: ControlPlane;
let bus: BusSubscriber;
let sink: LogSink;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase('presence_unknown');
  database = openDatabase(testDb.url, { max: 4 });
  prefix = createTestPrefix('presence-unknown');
  k = keys(prefix.prefix);
  direct = createRedis(TEST_REDIS_URL);
  redisLink = await redisViaProxy();
  const queue = createJobQueue(createRedis(TEST_REDIS_URL), k.bullPrefix);
  closers.push(() => queue.close());
  cp = { database, redis: redisLink.redis, queue, keys: k, log, limits: { maxOutputBytes: 1 << 20, tailBytes: 1 << 16, agentGraceMs: GRACE_MS, heartbeatMs: 100 } };
  bus = BusSubscriber.open(TEST_REDIS_URL, k);
  sink = new LogSink({ sql: database.sql, bus: cp, log });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await sink?.close();
  bus?.close();
  direct?.disconnect();
  await redisLink?.close();
  await database?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

async function insertAgent(): Promise<string> {
  const id = newId('agt');
  await database.sql`
    insert into agents (id, name, token_hash, last_seen_at) values (${id}, ${id}, ${id}, clock_timestamp() - interval '1 hour')`;
  return id;
}

/** An agent job; `running` ones started an hour ago (attempt 1), `queued` ones created an hour ago. */
async function insertAgentJob(agentId: string, status: 'queued' | 'running'): Promise<string> {
  const id = newId('job');
  await database.sql`
    insert into jobs (id, status, command, target, agent_id, timeout_ms, attempt, created_at, started_at)
    values (${id}, ${status}, 'true', ${JSON.stringify({ type: 'agent', agent: agentId })}::jsonb, ${agentId}, 86400000,
            ${status === 'running' ? 1 : 0}, clock_timestamp() - interval '1 hour',
            case when ${status}::text = 'running' then clock_timestamp() - interval '1 hour' end)`;
  return id;
}

const statusOf = async (jobId: string) => (await getJob(database.sql, jobId))!;

describe('dispatch', () => {
  /** How many times the worker looked at each job. */
  const deliveries = new Map<string, number>();
  beforeAll(() => {
    const processJob = createJobProcessor({
      cp,
      sink,
      registry: new StopRegistry(),
      // The agent job of the last step runs here, as a local process: what matters is that it starts.
      executors: { local: createLocalExecutor(), agent: createLocalExecutor(), ssh: createLocalExecutor() },
      workerId: 'presence-test-worker',
      dispatchTimeoutMs: 300, // every job here is an hour old: far past it
      shutdown: new AbortController().signal,
    });
    const worker = new Worker<QueuedJobData>(
      JOB_QUEUE,
      async (job, token) => {
        deliveries.set(job.data.jobId, (deliveries.get(job.data.jobId) ?? 0) + 1);
        return processJob(job, token);
      },
      { connection: createRedis(TEST_REDIS_URL), prefix: k.bullPrefix, concurrency: 2 },
    );
    worker.on('error', () => {});
    closers.push(() => worker.close());
  });

  /** Enqueues a queued job of the agent while Redis is cut; lets Redis back after three looks at it, all leaving it queued. */
  async function threeLooksWhileUnknown(agentId: string): Promise<string> {
    redisLink.proxy.cut();
    const waiting = await insertAgentJob(agentId, 'queued');
    try {
      await enqueueJob(cp.queue, waiting, agentId);
      await waitFor('three looks at the job while Redis is unreachable', async () => {
        const job = await statusOf(waiting);
        if (job.status !== 'queued') throw new Error(`the job left queued while presence was unknown: ${job.status} ${job.errorCode}`);
        return (deliveries.get(waiting) ?? 0) >= 3;
      }, 30_000);
      expect(await statusOf(waiting)).toMatchObject({ status: 'queued', attempt: 0, errorCode: null });
    } finally {
      await redisLink.restore();
    }
    return waiting;
  }

  it('keeps an agent job queued while presence is unknown (even past the dispatch timeout), fails it once Redis says offline, starts one Redis says online', async () => {
    const agentId = await insertAgent();
    const waiting = await threeLooksWhileUnknown(agentId);
    // Redis answers: no presence key, past the dispatch timeout.
    const failed = await waitFor('the job failed agent_offline', async () => {
      const job = await statusOf(waiting);
      return job.status === 'failed' ? job : undefined;
    });
    expect(failed).toMatchObject({ errorCode: 'agent_offline', attempt: 0 });

    await direct.set(k.agentPresence(agentId), 'conn', 'PX', 60_000);
    const online = await insertAgentJob(agentId, 'queued');
    await enqueueJob(cp.queue, online, agentId);
    const ran = await waitFor('the job ran', async () => {
      const job = await statusOf(online);
      return job.status === 'succeeded' ? job : undefined;
    });
    expect(ran).toMatchObject({ attempt: 1, exitCode: 0 });
    await direct.del(k.agentPresence(agentId));
  });

  it('asks whether the agent was revoked only once Redis says offline: queued while unknown, then failed agent_revoked', async () => {
    const agentId = await insertAgent();
    // Revoked without its jobs being ended: a job inserted in the instant of the revoke.
    await database.sql`update agents set revoked_at = now() where id = ${agentId}`;
    const waiting = await threeLooksWhileUnknown(agentId);
    const failed = await waitFor('the job failed agent_revoked', async () => {
      const job = await statusOf(waiting);
      return job.status === 'failed' ? job : undefined;
    });
    expect(failed).toMatchObject({ errorCode: 'agent_revoked', attempt: 0 });
  });
});

describe('a running agent job whose agent is gone', () => {
  it('the janitor does not declare it lost while presence is unknown, and does once Redis says offline', async () => {
    const agentId = await insertAgent();
    const jobId = await insertAgentJob(agentId, 'running');
    redisLink.proxy.cut();
    try {
      for (let i = 0; i < 3; i++) await sweepRunningAgentJobs(cp);
      expect((await statusOf(jobId)).status).toBe('running');
    } finally {
      await redisLink.restore();
    }
    await sweepRunningAgentJobs(cp);
    expect(await statusOf(jobId)).toMatchObject({ status: 'lost', errorCode: 'agent_lost' });
  });

  it('the worker waiting on it does not declare it lost while presence is unknown, and does once Redis says offline', async () => {
    const agentId = await insertAgent();
    const jobId = await insertAgentJob(agentId, 'running');
    const job = (await getJob(database.sql, jobId))!;
    // The same connection, counting the presence reads (one per round of the executor's loop).
    let presenceReads = 0;
    const counting = new Proxy(redisLink.redis, {
      get(target, property) {
        if (property === 'exists') return (...args: Parameters<Redis['exists']>) => (presenceReads++, target.exists(...args));
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const executor = agentExecutor({ ...cp, redis: counting }, bus);
    redisLink.proxy.cut();
    const run = executor.run({
      job,
      stop: new AbortController().signal,
      detach: new AbortController().signal,
      sink,
      limits: { maxOutputBytes: 1 << 20, tailBytes: 1 << 16 },
      fresh: false,
      cancelChecked: Promise.resolve(),
    });
    let ended = false;
    void run.then(() => (ended = true));
    try {
      // Rounds a second apart: by the third read, an agent taken for gone at the first is past the grace.
      await waitFor('three presence reads while Redis is unreachable', () => presenceReads >= 3, 30_000);
      expect(ended).toBe(false);
      expect((await statusOf(jobId)).status).toBe('running');
    } finally {
      await redisLink.restore();
    }
    expect(await run).toEqual({ kind: 'ended' });
    expect(await statusOf(jobId)).toMatchObject({ status: 'lost', errorCode: 'agent_lost' });
  });
});
