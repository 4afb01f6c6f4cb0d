/**
 * The log sink against the real Postgres and Redis (design.md, "The output pipeline"): dense seqs
 * and order per job, retransmits stored and counted once, bytes exact, producers acknowledged
 * only once their rows are durable, batches published on the job's channel, and backpressure
 * while Postgres is unreachable.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { createTestDatabase, createTestPrefix, seededRandom, sha256, TcpProxy, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import { BusSubscriber } from '../src/bus/index.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { createLogger } from '../src/logger.ts';
import { LogSink, type OutputRow } from '../src/logsink/index.ts';
import { createRedis, keys as redisKeys, type Keys } from '../src/redis.ts';

let testDb: TestDatabase;
let redisPrefix: ReturnType<typeof createTestPrefix>;
let database: Database;
let publisher: Redis;
let k: Keys;
const sinks: LogSink[] = [];
const silent = createLogger('log-sink-test', 'silent');

beforeAll(async () => {
  testDb = await createTestDatabase('logsink');
  redisPrefix = createTestPrefix('logsink');
  database = openDatabase(testDb.url);
  publisher = createRedis(TEST_REDIS_URL);
  k = redisKeys(redisPrefix.prefix);
});

afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close().catch(() => {})));
  publisher?.disconnect();
  await database?.close();
  await testDb?.drop();
  await redisPrefix?.cleanup();
});

function newSink(opts: { maxBatchBytes?: number; maxDelayMs?: number; sql?: Database['sql']; log?: ReturnType<typeof createLogger> } = {}): LogSink {
  const sink = new LogSink({ sql: opts.sql ?? database.sql, bus: { redis: publisher, keys: k }, log: opts.log ?? silent, maxBatchBytes: opts.maxBatchBytes, maxDelayMs: opts.maxDelayMs });
  sinks.push(sink);
  return sink;
}

async function insertJob(): Promise<string> {
  const id = newId('job');
  await database.sql`insert into jobs (id, status, command, target, timeout_ms) values (${id}, 'running', 'true', '{"type":"local"}'::jsonb, 60000)`;
  return id;
}

async function stored(jobId: string): Promise<{ seq: number; stream: number; data: Buffer }[]> {
  return database.sql<{ seq: number; stream: number; data: Buffer }[]>`select seq, stream, data from job_output where job_id = ${jobId} order by seq`;
}

async function outputBytes(jobId: string): Promise<number> {
  const [row] = await database.sql<{ output_bytes: number }[]>`select output_bytes from jobs where id = ${jobId}`;
  return Number(row!.output_bytes);
}

const chunk = (jobId: string, seq: number, data: Buffer | string, stream: 1 | 2 = 1): OutputRow => ({ jobId, attempt: 1, seq, stream, data: Buffer.isBuffer(data) ? data : Buffer.from(data) });

/** Subscribe through a bus subscriber of its own and collect every output chunk published for `jobId` (BUS.md §4). */
async function listenToJob(jobId: string) {
  const bus = BusSubscriber.open(TEST_REDIS_URL, k);
  const seen: { seq: number; stream: number; data: Buffer }[] = [];
  await bus.jobOutput(jobId, (msg) => {
    for (const c of msg.chunks) seen.push({ seq: c.seq, stream: c.stream, data: Buffer.from(c.data) });
  });
  return { seen, close: () => bus.close() };
}

describe('log sink: ordering', () => {
  const SEED = 20240611;
  it(`interleaved appends from several jobs are stored dense and in order per job (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    // A small batch size forces splits and two statements in flight at once.
    const sink = newSink({ maxBatchBytes: 8 * 1024, maxDelayMs: 2 });
    const jobIds = await Promise.all(Array.from({ length: 5 }, () => insertJob()));
    const expected = new Map<string, Buffer[]>(jobIds.map((id) => [id, []]));
    const nextSeq = new Map<string, number>(jobIds.map((id) => [id, 0]));
    const pending: Promise<void>[] = [];
    for (let round = 0; round < 400; round++) {
      const jobId = jobIds[Math.floor(random() * jobIds.length)]!;
      // One append carries 1..4 consecutive chunks of 1 B .. 3 KiB.
      const rows: OutputRow[] = [];
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
        const seq = nextSeq.get(jobId)!;
        nextSeq.set(jobId, seq + 1);
        const data = Buffer.from(`${jobId}:${seq}:` + 'x'.repeat(Math.floor(random() * 3000)));
        expected.get(jobId)!.push(data);
        rows.push(chunk(jobId, seq, data, random() < 0.5 ? 1 : 2));
      }
      pending.push(sink.append(rows));
      // Sometimes wait for everything so far, sometimes pile up.
      if (random() < 0.1) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);

    for (const jobId of jobIds) {
      const rows = await stored(jobId);
      const want = expected.get(jobId)!;
      expect(rows.map((r) => r.seq)).toEqual(want.map((_, i) => i));
      expect(Buffer.concat(rows.map((r) => r.data)).equals(Buffer.concat(want))).toBe(true);
      expect(await outputBytes(jobId)).toBe(Buffer.concat(want).length);
    }
  });

  it('keeps stdout and stderr apart per chunk', async () => {
    const sink = newSink();
    const jobId = await insertJob();
    await sink.append([chunk(jobId, 0, 'out0', 1), chunk(jobId, 1, 'err1', 2), chunk(jobId, 2, 'out2', 1)]);
    const rows = await stored(jobId);
    expect(rows.map((r) => [r.seq, r.stream, r.data.toString()])).toEqual([
      [0, 1, 'out0'],
      [1, 2, 'err1'],
      [2, 1, 'out2'],
    ]);
  });
});

describe('log sink: retransmitted chunks', () => {
  it('stores a resent chunk once and counts its bytes once (separate batches)', async () => {
    const sink = newSink();
    const jobId = await insertJob();
    const first = Array.from({ length: 10 }, (_, i) => chunk(jobId, i, `chunk-${i}\n`));
    await sink.append(first);
    // The resend carries the same seqs (an agent after a reconnect); the stored bytes win.
    await sink.append(Array.from({ length: 10 }, (_, i) => chunk(jobId, i, `RESENT-${i}-longer\n`)));
    await sink.append([chunk(jobId, 10, 'chunk-10\n')]);
    const rows = await stored(jobId);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(Buffer.concat(rows.map((r) => r.data)).toString()).toBe(Array.from({ length: 11 }, (_, i) => `chunk-${i}\n`).join(''));
    expect(await outputBytes(jobId)).toBe(Buffer.concat(rows.map((r) => r.data)).length);
  });

  it('stores a chunk repeated within one append once', async () => {
    const sink = newSink();
    const jobId = await insertJob();
    await sink.append([chunk(jobId, 0, 'a'), chunk(jobId, 1, 'bb'), chunk(jobId, 0, 'a'), chunk(jobId, 1, 'bb'), chunk(jobId, 2, 'ccc')]);
    expect((await stored(jobId)).map((r) => r.data.toString())).toEqual(['a', 'bb', 'ccc']);
    expect(await outputBytes(jobId)).toBe(6);
  });

  it('stores a chunk repeated across appends that share one batch once', async () => {
    // A long delay so both appends land in the same pending batch before it flushes.
    const sink = newSink({ maxDelayMs: 50 });
    const jobId = await insertJob();
    const rows = Array.from({ length: 20 }, (_, i) => chunk(jobId, i, Buffer.alloc(100 + i, i)));
    await Promise.all([sink.append(rows), sink.append(rows), sink.append(rows.slice(5, 15))]);
    const got = await stored(jobId);
    expect(got.map((r) => r.seq)).toEqual(rows.map((r) => r.seq));
    expect(await outputBytes(jobId)).toBe(rows.reduce((n, r) => n + r.data.length, 0));
  });

  it('stores a chunk resent concurrently in overlapping batches once', async () => {
    const sink = newSink({ maxBatchBytes: 4 * 1024, maxDelayMs: 1 });
    const jobId = await insertJob();
    const rows = Array.from({ length: 64 }, (_, i) => chunk(jobId, i, Buffer.alloc(1000, i)));
    await Promise.all([sink.append(rows), sink.append([...rows].reverse()), sink.append(rows.filter((_, i) => i % 3 === 0))]);
    expect((await stored(jobId)).map((r) => r.seq)).toEqual(rows.map((r) => r.seq));
    expect(await outputBytes(jobId)).toBe(64 * 1000);
  });
});

describe('log sink: binary data', () => {
  it('stores all 256 byte values exactly', async () => {
    const sink = newSink();
    const jobId = await insertJob();
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    // Including chunks that are not valid UTF-8 on their own and a lone NUL.
    await sink.append([chunk(jobId, 0, all), chunk(jobId, 1, Buffer.from([0xff, 0xfe, 0x00, 0xc3])), chunk(jobId, 2, Buffer.from([0]), 2)]);
    const rows = await stored(jobId);
    expect(rows[0]!.data.equals(all)).toBe(true);
    expect(rows[1]!.data.equals(Buffer.from([0xff, 0xfe, 0x00, 0xc3]))).toBe(true);
    expect(rows[2]!.data.equals(Buffer.from([0]))).toBe(true);
  });

  it('stores 1 MiB of random bytes with the same sha256', async () => {
    const sink = newSink();
    const jobId = await insertJob();
    const data = randomBytes(1024 * 1024);
    // Uneven chunk sizes up to the protocol's 64 KiB, appended concurrently.
    const rows: OutputRow[] = [];
    for (let off = 0, seq = 0; off < data.length; seq++) {
      const size = Math.min(data.length - off, 1 + ((seq * 7919) % (64 * 1024)));
      rows.push(chunk(jobId, seq, data.subarray(off, off + size)));
      off += size;
    }
    await Promise.all(rows.map((r) => sink.append([r])));
    const got = Buffer.concat((await stored(jobId)).map((r) => r.data));
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
    expect(await outputBytes(jobId)).toBe(data.length);
  });
});

describe('log sink: acknowledgement after durability', () => {
  it('resolves each append only once its rows can be read back', async () => {
    const sink = newSink({ maxBatchBytes: 16 * 1024 });
    const jobId = await insertJob();
    let seq = 0;
    for (let i = 0; i < 30; i++) {
      // Alternate small appends with ones that the sink has to split over several statements.
      const rows = Array.from({ length: i % 3 === 0 ? 40 : 1 }, () => chunk(jobId, seq++, randomBytes(i % 3 === 0 ? 1024 : 10)));
      await sink.append(rows);
      const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from job_output where job_id = ${jobId}`;
      expect(row!.n).toBe(seq);
    }
  });

  it('does not acknowledge an append split over two statements until both are durable', async () => {
    // Job A's row is locked by another transaction, so the statement carrying A's chunks waits;
    // the same append also carries a chunk of job B, which goes in the next statement and lands.
    // The producer must still be waiting: part of what it appended is not in Postgres.
    const sink = newSink({ maxBatchBytes: 64 * 1024, maxDelayMs: 1 });
    const [jobA, jobB] = [await insertJob(), await insertJob()];
    const listener = await listenToJob(jobB);
    const locker = openDatabase(testDb.url, { max: 1 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let lockHeld!: () => void;
    const held = new Promise<void>((r) => (lockHeld = r));
    const tx = locker.sql.begin(async (t) => {
      await t`select id from jobs where id = ${jobA} for update`;
      lockHeld();
      await released;
    });
    try {
      await held;
      const rowsA = Array.from({ length: 64 }, (_, i) => chunk(jobA, i, Buffer.alloc(1024, i)));
      let settled = false;
      const append = sink.append([...rowsA, chunk(jobB, 0, 'b')]).then(() => {
        settled = true;
      });
      // The sink publishes a batch right after acknowledging it, so once B's chunk is on the
      // channel, any acknowledgement that batch gave has already happened.
      await waitFor("job B's chunk published", () => listener.seen.length > 0);
      await new Promise((r) => setImmediate(r));
      expect((await stored(jobA)).length).toBe(0);
      expect(settled).toBe(false);
      release();
      await tx;
      await append;
      expect((await stored(jobA)).length).toBe(64);
      expect((await stored(jobB)).length).toBe(1);
    } finally {
      release();
      await tx.catch(() => {});
      listener.close();
      await locker.close();
    }
  });
});

describe('log sink: publishing', () => {
  it("publishes each stored batch on the job's channel, and a retransmit not again", async () => {
    const sink = newSink({ maxBatchBytes: 8 * 1024 });
    const jobId = await insertJob();
    const other = await insertJob();
    const listener = await listenToJob(jobId);
    try {
      const rows = Array.from({ length: 50 }, (_, i) => chunk(jobId, i, randomBytes(1 + i * 37), i % 2 === 0 ? 1 : 2));
      await Promise.all([sink.append(rows.slice(0, 25)), sink.append([chunk(other, 0, 'elsewhere')]), sink.append(rows.slice(25))]);
      await waitFor('all 50 chunks published', () => listener.seen.length >= 50);
      // The resend is stored nowhere and published nowhere; the marker after it proves the
      // channel has delivered everything that came before.
      await sink.append(rows.slice(10, 20));
      await sink.append([chunk(jobId, 50, 'marker')]);
      await waitFor('the marker published', () => listener.seen.some((c) => c.seq === 50));
      const seqs = listener.seen.map((c) => c.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 51 }, (_, i) => i));
      for (const c of listener.seen.filter((c) => c.seq < 50)) {
        expect(c.data.equals(rows[c.seq]!.data)).toBe(true);
        expect(c.stream).toBe(rows[c.seq]!.stream);
      }
    } finally {
      listener.close();
    }
  });
});

describe('log sink: publishing in order', () => {
  it("publishes a job's batches in seq order when a later batch commits first", async () => {
    // Two flushes at once: a large row, then a tiny one that is stored long before it. A subscriber
    // that saw seq 1 before seq 0 would read the batch back from Postgres (issue 16).
    const sink = newSink({ maxBatchBytes: 64 * 1024 });
    const jobId = await insertJob();
    const listener = await listenToJob(jobId);
    try {
      for (let round = 0; round < 3; round++) {
        const big = chunk(jobId, 2 * round, randomBytes(8 * 1024 * 1024));
        await sink.append([big, chunk(jobId, 2 * round + 1, `small ${round}`)]);
      }
      await waitFor('all 6 chunks published', () => listener.seen.length >= 6);
      expect(listener.seen.map((c) => c.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      listener.close();
    }
  });
});

describe('log sink: backpressure while Postgres is unreachable', () => {
  it('keeps producers waiting while Postgres is cut off, then stores everything once it is back', async () => {
    const proxy = await TcpProxy.start(Number(new URL(testDb.url).port || 5432));
    const viaProxy = new URL(testDb.url);
    viaProxy.port = String(proxy.port);
    const remote = openDatabase(viaProxy.toString(), { max: 2, connectTimeoutS: 2 });
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (line, _enc, done) => (warnings.push(line.toString()), done()) }));
    const sink = new LogSink({ sql: remote.sql, bus: { redis: publisher, keys: k }, log, maxDelayMs: 1 });
    const jobId = await insertJob();
    try {
      await sink.append([chunk(jobId, 0, 'before the outage\n')]);
      expect((await stored(jobId)).length).toBe(1);

      proxy.cut();
      let settled = 0;
      const appends = Array.from({ length: 5 }, (_, i) =>
        sink.append([chunk(jobId, 1 + i, `during the outage ${i}\n`)]).then(() => {
          settled++;
        }),
      );
      // Wait for evidence that the sink tried and is retrying, not for a length of time.
      await waitFor('the sink to report a failed insert', () => warnings.some((w) => w.includes('output batch insert failed')), 30_000);
      await waitFor('the sink to retry against the unreachable Postgres', () => proxy.refused >= 2, 30_000);
      expect(settled).toBe(0);
      expect((await stored(jobId)).length).toBe(1);

      proxy.restore();
      await Promise.all(appends);
      expect(settled).toBe(5);
      const rows = await stored(jobId);
      expect(rows.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(Buffer.concat(rows.map((r) => r.data)).toString()).toBe('before the outage\n' + Array.from({ length: 5 }, (_, i) => `during the outage ${i}\n`).join(''));
      expect(await outputBytes(jobId)).toBe(Buffer.concat(rows.map((r) => r.data)).length);
    } finally {
      proxy.restore();
      await sink.close().catch(() => {});
      await remote.close().catch(() => {});
      await proxy.close();
    }
  });
});
