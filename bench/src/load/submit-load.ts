import postgres from 'postgres';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { VmoApiError, VmoClient } from '@vmo/client';
import { newId } from '@vmo/shared/ids';
import { summarize } from '../stats.ts';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';

/**
 * Submit load: `concurrency` clients in a closed loop, until `count` jobs are accepted or
 * `durationMs` has passed.
 *   api:    POST /v1/jobs through the client (fetch: HTTP keep-alive), round-robin over `urls`.
 *   direct: what POST /v1/jobs does underneath, with nothing else: the same INSERT … RETURNING
 *           of the job row, then the same BullMQ add (the submit baseline).
 *   queue:  the BullMQ add alone (the throughput baseline's submitter: it has no Postgres).
 * Each submission's latency (call to answer, ms) is summarised too: p50/p99 over accepted ones.
 */
interface Args {
  mode: 'api' | 'direct' | 'queue';
  concurrency: number;
  count?: number;
  durationMs?: number;
  deadlineMs: number;
  urls?: string[];
  token?: string;
  body?: Record<string, unknown>;
  databaseUrl?: string;
  redisUrl?: string;
  bullPrefix?: string;
  queueName?: string;
  command?: string;
  dbPoolSize?: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'submit-load');

const JOB_OPTS = { removeOnComplete: true, removeOnFail: { age: 24 * 3600 }, attempts: 1 } as const;

async function main(): Promise<void> {
  let submitOne: (i: number) => Promise<boolean>;
  let cleanup: () => Promise<void> = async () => {};
  const statuses: Record<string, number> = {};

  if (args.mode === 'api') {
    const clients = args.urls!.map((baseUrl) => new VmoClient({ baseUrl, token: args.token }));
    const body = args.body as Parameters<VmoClient['jobs']['submit']>[0];
    submitOne = async (i) => {
      try {
        await clients[i % clients.length]!.jobs.submit(body);
        statuses[201] = (statuses[201] ?? 0) + 1;
        return true;
      } catch (err) {
        if (!(err instanceof VmoApiError)) throw err;
        statuses[err.status] = (statuses[err.status] ?? 0) + 1;
        return false;
      }
    };
  } else {
    const redis = new Redis(args.redisUrl!, { maxRetriesPerRequest: null });
    const queue = new Queue(args.queueName ?? 'jobs', { connection: redis, prefix: args.bullPrefix! });
    await queue.waitUntilReady();
    const sql = args.mode === 'direct' ? postgres(args.databaseUrl!, { max: args.dbPoolSize ?? 10, onnotice: () => {} }) : undefined;
    const command = args.command ?? 'true';
    submitOne = async () => {
      const id = newId('job');
      if (sql) {
        await sql`
          insert into jobs (id, status, command, target, agent_id, host_id, env, cwd, timeout_ms, labels, created_by)
          values (${id}, 'queued', ${command}, ${sql.json({ type: 'local' })}, ${null}, ${null}, ${sql.json({})}, ${null}, ${3_600_000}, ${sql.json({})}, ${'bench'})
          returning *`;
      }
      await queue.add('run', { jobId: id }, { jobId: id, ...JOB_OPTS });
      return true;
    };
    cleanup = async () => {
      await queue.close();
      redis.disconnect();
      await sql?.end({ timeout: 5 });
    };
  }

  const startedAt = Date.now();
  const stopAt = args.durationMs ? startedAt + args.durationMs : Number.POSITIVE_INFINITY;
  const limit = args.count ?? Number.POSITIVE_INFINITY;
  let issued = 0;
  let accepted = 0;
  let errors = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];
  emit('started', { startedAt });
  const client = async () => {
    while (issued < limit && Date.now() < stopAt) {
      const i = issued++;
      try {
        const sentAt = performance.now();
        if (await submitOne(i)) {
          latencies.push(performance.now() - sentAt);
          accepted++;
        } else errors++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, client));
  const endedAt = Date.now();
  await cleanup();
  const { p50, p99, max } = summarize(latencies);
  finish({ accepted, errors, firstError, statuses, startedAt, endedAt, perSecond: accepted / ((endedAt - startedAt) / 1000), latencyMs: { p50, p99, max } });
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
