/**
 * The subscriber path under stress (docs/architecture.md, "The data path of an output chunk"): while a job writes many
 * small chunks, subscribers connect at random moments, to either API node, drop (cleanly or
 * abruptly) after a random number of chunks and come back with `?after=<last seq they saw>`;
 * meanwhile the second API node's Redis connections are reset now and then, so pub/sub messages
 * are lost and its subscribers see gaps that must be filled from Postgres. Every subscriber's
 * reassembled stream must equal the stored log exactly: every chunk once, in order, then `end`.
 *
 * Randomized with a seed printed in the test name; `VMO_TEST_SEED=<n>` replays (or adds) one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followJob, seededRandom, TcpProxy, TEST_REDIS_URL, TestSystem, waitFor, type FollowResult } from '@vmo/testkit';

const SEEDS = process.env.VMO_TEST_SEED ? [Number(process.env.VMO_TEST_SEED)] : [20240611, 7, 90210];
const SUBSCRIBERS = 8;

interface Chunk {
  seq: number;
  stream: string;
  data: string; // base64, compared as stored
}

interface SubscriberLog {
  chunks: Chunk[];
  sessions: { node: number; after: number; outputs: number; closeCode: number; ended: boolean; left: boolean }[];
  end: FollowResult['end'];
  /** Close code of the last session, unless the subscriber itself left in it. */
  lastCloseCode: number | 'left';
}

describe('subscriber path: exactly once, in order, across reconnects and lost pub/sub messages', () => {
  let system: TestSystem;
  let redisProxy: TcpProxy;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'subscriber_path', apis: 1, workers: 1 });
    // API node 2 reaches Redis through a proxy the test resets: its pub/sub loses messages.
    const redisUrl = new URL(TEST_REDIS_URL);
    redisProxy = await TcpProxy.start(Number(redisUrl.port || 6379), redisUrl.hostname);
    await system.startApi({ VMO_REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` });
  });

  afterAll(async () => {
    redisProxy?.restore();
    await system?.stop();
    await redisProxy?.close();
  });

  // Many small writes on both streams, with pauses so the run spans many batches.
  const LINES = 1500;
  const command = `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo "out-$i"; if [ $((i % 7)) -eq 0 ]; then echo "err-$i" >&2; fi; if [ $((i % 25)) -eq 0 ]; then sleep 0.01; fi; done`;
  const expectedStdout = Array.from({ length: LINES }, (_, i) => `out-${i + 1}\n`).join('');
  const expectedStderr = Array.from({ length: LINES }, (_, i) => i + 1)
    .filter((i) => i % 7 === 0)
    .map((i) => `err-${i}\n`)
    .join('');

  /**
   * One virtual subscriber: sessions until it has seen `end`. Each session picks a node, and
   * either follows to the end or leaves after a random number of chunks (close or terminate),
   * then resumes after the last seq it saw.
   */
  async function subscribe(jobId: string, random: () => number): Promise<SubscriberLog> {
    const log: SubscriberLog = { chunks: [], sessions: [], end: undefined, lastCloseCode: 0 };
    for (let n = 0; log.end === undefined; n++) {
      if (n > 200) throw new Error(`subscriber did not reach the end in 200 sessions: ${JSON.stringify(log.sessions.slice(-5))}`);
      const node = Math.floor(random() * system.apiUrls.length);
      // Late sessions always follow through, so every subscriber finishes.
      const leaveAfter = n >= 12 || random() < 0.25 ? Infinity : Math.floor(random() * 30);
      const abrupt = random() < 0.5;
      const after = log.chunks.length > 0 ? log.chunks[log.chunks.length - 1]!.seq : -1;
      let outputs = 0;
      let left = false;
      const result = await followJob(system.apiUrls[node]!, system.token, jobId, {
        // `after=-1` and no `after` mean the same; use both forms.
        after: after === -1 && random() < 0.5 ? undefined : after,
        onMessage: (msg, ws) => {
          // leaveAfter 0: leave on the first message (the status), before any output.
          if (msg.type === 'output') log.chunks.push({ seq: msg.seq, stream: msg.stream, data: msg.data });
          else if (leaveAfter !== 0) return;
          if ((msg.type !== 'output' || ++outputs >= leaveAfter) && ws.readyState === ws.OPEN) {
            left = true;
            abrupt ? ws.terminate() : ws.close(1000);
          }
        },
      });
      log.sessions.push({ node, after, outputs, closeCode: result.closeCode, ended: result.end !== undefined, left });
      // Everything received counts, even what arrived after leaving (the `end` may be among it).
      log.end = result.end;
      log.lastCloseCode = left ? 'left' : result.closeCode;
    }
    return log;
  }

  it.each(SEEDS)('seed %i: every subscriber reassembles exactly the stored log, then end', async (seed) => {
    const random = seededRandom(seed);
    const job = await system.client.submit({ command });

    // Moments, in seqs seen by a pilot subscriber, at which each subscriber starts and at which
    // node 2's Redis connections are reset. -1: at once (possibly before the job starts).
    const startAt = Array.from({ length: SUBSCRIBERS }, (_, i) => (i === 0 ? -1 : Math.floor(random() * 80) - 5));
    const resetAt = new Set(Array.from({ length: 4 }, () => Math.floor(random() * 80)));
    const subscriberRandoms = Array.from({ length: SUBSCRIBERS + 1 }, (_, i) => seededRandom(seed * 31 + i));
    const started: Promise<SubscriberLog>[] = [];
    const startable = new Set(startAt.map((_, i) => i));
    const startDue = (seen: number) => {
      for (const i of [...startable]) {
        if (startAt[i]! <= seen) {
          startable.delete(i);
          started.push(subscribe(job.id, subscriberRandoms[i]!));
        }
      }
    };
    let resets = 0;
    startDue(-1);
    const pilot = await followJob(system.apiUrls[0]!, system.token, job.id, {
      onMessage: (msg) => {
        if (msg.type !== 'output') return;
        startDue(msg.seq);
        if (resetAt.has(msg.seq)) {
          resetAt.delete(msg.seq);
          resets++;
          redisProxy.dropOpen();
        }
      },
    });
    // Those whose moment never came (the job wrote fewer chunks) start after the end: replay + end.
    startDue(Number.MAX_SAFE_INTEGER);
    // And one more that joins after the end, on node 2, whose Redis was just reset.
    redisProxy.dropOpen();
    started.push(subscribe(job.id, subscriberRandoms[SUBSCRIBERS]!));
    const logs = await Promise.all(started);

    const final = await system.client.waitForEnd(job.id);
    expect(final.status).toBe('succeeded');

    // The stored log, as the reference.
    const ndjson = (await system.client.logs(job.id, '?format=ndjson')).toString().trim().split('\n').map((l) => JSON.parse(l));
    const stored: Chunk[] = ndjson.map((c: any) => ({ seq: c.seq, stream: c.stream, data: c.data }));
    expect(stored.map((c) => c.seq)).toEqual(stored.map((_, i) => i));
    const text = (stream: string, chunks: Chunk[]) => Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => Buffer.from(c.data, 'base64'))).toString();
    expect(text('stdout', stored)).toBe(expectedStdout);
    expect(text('stderr', stored)).toBe(expectedStderr);
    // The job must have been long enough for the test to mean something.
    expect(stored.length).toBeGreaterThan(20);

    for (const [i, got] of [pilot, ...logs].map((l, i) => [i, l] as const)) {
      const chunks = 'chunks' in got ? got.chunks : got.messages.filter((m) => m.type === 'output').map((m) => ({ seq: m.seq, stream: m.stream, data: m.data }));
      const context = `seed ${seed}, subscriber ${i - 1} (pilot = -1), resets ${resets}, sessions ${'sessions' in got ? JSON.stringify(got.sessions) : 1}`;
      expect(chunks.map((c) => c.seq), context).toEqual(stored.map((c) => c.seq));
      expect(chunks, context).toEqual(stored);
      expect(got.end, context).toEqual({ status: 'succeeded', exitCode: 0, signal: null });
      // The server closes with 1000 after `end` (unless the subscriber was leaving anyway).
      expect(['left', 1000], context).toContain('lastCloseCode' in got ? got.lastCloseCode : got.closeCode);
    }
    // Every process is still up, and none logged an error.
    for (const p of [...system.apis, ...system.workers]) expect(p.child.exitCode, system.logs()).toBeNull();
    await waitFor('node 2 to answer again', async () => (await system.clientFor(1).request('GET', '/health/ready')).status === 200);
    expect(system.apis.map((p) => p.output).join('\n'), system.logs()).not.toMatch(/"level":(50|60)/);
  });
});
