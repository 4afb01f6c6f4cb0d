import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { newId } from '@vmo/shared/ids';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * Sequential jobs, one at a time: time from "submit" to the first output byte.
 *   vmo:  POST /v1/jobs, then a WebSocket subscriber on its stream (the replay covers output
 *         produced before it connected); stops at the first `output` message, waits for `end`.
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

async function vmoJob(): Promise<Sample> {
  const t0 = preciseNow();
  const res = await fetch(`${args.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${args.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ command: args.command, target: args.target }),
  });
  const job = (await res.json()) as { id: string };
  if (res.status !== 201) throw new Error(`submit: HTTP ${res.status} ${JSON.stringify(job)}`);
  const submitted = preciseNow();
  const ws = new WebSocket(`${args.apiUrl!.replace(/^http/, 'ws')}/v1/jobs/${job.id}/stream`, { headers: { authorization: `Bearer ${args.token}` } });
  return new Promise((resolve, reject) => {
    let first: number | undefined;
    ws.on('message', (raw) => {
      if (first === undefined && raw.toString().startsWith('{"type":"output"')) first = preciseNow();
    });
    ws.on('error', reject);
    ws.on('close', () => (first === undefined ? reject(new Error(`job ${job.id}: stream closed without output`)) : resolve({ total: first - t0, submit: submitted - t0 })));
  });
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
