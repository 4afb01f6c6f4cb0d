import { spawn } from 'node:child_process';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { emit, exitAfter, finish, loadArgs } from '../load/emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * The floor under a job runner: a BullMQ worker that spawns the command (`/bin/sh -c`, as the
 * product does) and waits for its exit and pipes, nothing else. With `notifyChannel`, it
 * publishes `{id, kind: 'first', t}` at the first stdout byte and `{id, kind: 'done'}` at the end
 * (the latency baseline); with `expect`, it reports after that many completions.
 */
interface Args {
  redisUrl: string;
  bullPrefix: string;
  queueName: string;
  concurrency: number;
  expect?: number;
  notifyChannel?: string;
  deadlineMs: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'bare-worker');

function runCommand(command: string, onFirstByte: () => void): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let first = true;
    child.stdout.on('data', () => {
      if (first) {
        first = false;
        onFirstByte();
      }
    });
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}

async function main(): Promise<void> {
  const publisher = new Redis(args.redisUrl, { maxRetriesPerRequest: null });
  let completed = 0;
  let firstStart = 0;
  let lastEnd = 0;
  const worker = new Worker<{ jobId: string; command?: string }>(
    args.queueName,
    async (job) => {
      firstStart ||= Date.now();
      const id = job.data.jobId;
      await runCommand(job.data.command ?? 'true', () => {
        if (args.notifyChannel) void publisher.publish(args.notifyChannel, JSON.stringify({ id, kind: 'first', t: preciseNow() }));
      });
      if (args.notifyChannel) await publisher.publish(args.notifyChannel, JSON.stringify({ id, kind: 'done' }));
    },
    { connection: new Redis(args.redisUrl, { maxRetriesPerRequest: null }), prefix: args.bullPrefix, concurrency: args.concurrency },
  );
  worker.on('completed', () => {
    completed++;
    lastEnd = Date.now();
    if (args.expect && completed === args.expect) finish({ completed, firstStart, lastEnd });
  });
  worker.on('failed', (_job, err) => emit('error', { message: `bare job failed: ${err.message}` }));
  await worker.waitUntilReady();
  emit('ready');
  // Stopped early (a time-bounded run): report what completed by then.
  const stop = () => finish({ completed, firstStart, lastEnd });
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
