import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { VmoClient } from '@vmo/client';
import { newId } from '@vmo/shared/ids';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * Sequential jobs, one at a time: time from "submit" to the first output byte.
 *   vmo:  the client's submit, then its follow() of the job's stream (the replay covers output
 *         produced before it connected); the first `output` frame is the sample; waits for `end`.
 *   bare: BullMQ add; the bare worker publishes the time it saw the first stdout byte.
 * The first `warmup` jobs are run and not counted.
 */
interface Args {
  mode: 'vmo' | 'bare';
  n: number;
  warmup: number;
  /** Stop measuring after this long even if fewer than `n` samples were taken. */
  maxMs: number;
  command: string;
  deadlineMs: number;
  apiUrl?: string;
  token?: string;
  target?: Record<string, unknown>;
  redisUrl?: string;
  bullPrefix?: string;
  queueName?: string;
  notifyChannel?: string;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'latency-load');

interface Sample {
  total: number;
  submit: number;
}

let client: VmoClient | undefined;

async function vmoJob(): Promise<Sample> {
  client ??= new VmoClient({ baseUrl: args.apiUrl!, token: args.token });
  const t0 = preciseNow();
  const job = await client.jobs.submit({ command: args.command, ...(args.target ? { target: args.target as never } : {}) });
  const submitted = preciseNow();
  let first: number | undefined;
  await client.follow(job.id, {
    onMessage: (msg) => {
      if (first === undefined && msg.type === 'output') first = preciseNow();
    },
  });
  if (first === undefined) throw new Error(`job ${job.id}: stream ended without output`);
  return { total: first - t0, submit: submitted - t0 };
}

async function main(): Promise<void> {
  let runOne: () => Promise<Sample>;
  let cleanup = async () => {};
  if (args.mode === 'vmo') {
    runOne = vmoJob;
  } else {
    const redis = new Redis(args.redisUrl!, { maxRetriesPerRequest: null });
    const sub = new Redis(args.redisUrl!, { maxRetriesPerRequest: null });
    const queue = new Queue(args.queueName!, { connection: redis, prefix: args.bullPrefix! });
    await queue.waitUntilReady();
    const waiting = new Map<string, { first?: (t: number) => void; done?: () => void }>();
    sub.on('message', (_ch: string, raw: string) => {
      const msg = JSON.parse(raw) as { id: string; kind: 'first' | 'done'; t?: number };
      const w = waiting.get(msg.id);
      if (msg.kind === 'first') w?.first?.(msg.t!);
      else w?.done?.();
    });
    await sub.subscribe(args.notifyChannel!);
    runOne = async () => {
      const id = newId('job');
      const entry: { first?: (t: number) => void; done?: () => void } = {};
      const first = new Promise<number>((r) => (entry.first = r));
      const done = new Promise<void>((r) => (entry.done = r));
      waiting.set(id, entry);
      const t0 = preciseNow();
      await queue.add('run', { jobId: id, command: args.command }, { jobId: id, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      const submitted = preciseNow();
      const t1 = await first;
      await done;
      waiting.delete(id);
      return { total: t1 - t0, submit: submitted - t0 };
    };
    cleanup = async () => {
      await queue.close();
      redis.disconnect();
      sub.disconnect();
    };
  }
  const samples: number[] = [];
  const submits: number[] = [];
  let measuringSince = 0;
  for (let i = 0; i < args.warmup + args.n; i++) {
    if (i === args.warmup) measuringSince = Date.now();
    if (measuringSince && Date.now() - measuringSince > args.maxMs) break;
    const s = await runOne();
    if (i >= args.warmup) {
      samples.push(s.total);
      submits.push(s.submit);
    }
  }
  await cleanup();
  finish({ samples, submits });
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
