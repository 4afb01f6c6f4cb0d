/**
 * The COPY path of the log sink (logsink/store-output-batch.ts, issue 16) against the real
 * Postgres: the same guarantees as the INSERT it stands in for (insert-output-batch.ts): bytes
 * exact, every chunk stored and counted once (a retransmit in the batch takes the INSERT instead),
 * the attempt fence and output retention refuse what they refused before, a job with no row
 * still has its chunks stored.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import { openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { COPY_MIN_BATCH_BYTES, copyOutputBatch, storeOutputBatch, type OutputRow } from '../src/logsink/index.ts';

let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('copyoutput');
  database = openDatabase(testDb.url);
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

async function insertJob(): Promise<string> {
  const id = newId('job');
  await database.sql`insert into jobs (id, status, command, target, timeout_ms, attempt) values (${id}, 'running', 'true', '{"type":"local"}'::jsonb, 60000, 1)`;
  return id;
}

async function stored(jobId: string): Promise<{ attempt: number; seq: number; stream: number; data: Buffer }[]> {
  return database.sql<{ attempt: number; seq: number; stream: number; data: Buffer }[]>`select attempt, seq, stream, data from job_output where job_id = ${jobId} order by attempt, seq`;
}

async function outputBytes(jobId: string): Promise<number> {
  const [row] = await database.sql<{ output_bytes: number }[]>`select output_bytes from jobs where id = ${jobId}`;
  return Number(row!.output_bytes);
}

const chunk = (jobId: string, seq: number, data: Buffer, stream: 1 | 2 = 1, attempt = 1): OutputRow => ({ jobId, attempt, seq, stream, data });
const keys = (rows: OutputRow[]) => rows.map((r) => `${r.jobId}:${r.attempt}:${r.seq}`).sort();

describe('output by COPY: what is stored', () => {
  it('stores a batch byte for byte, with its streams, counts it, and answers every key', async () => {
    const jobId = await insertJob();
    const rows = Array.from({ length: 6 }, (_, i) => chunk(jobId, i, randomBytes(i === 2 ? 0 : 20_000 + i), i % 2 === 0 ? 1 : 2));
    rows.push(chunk(jobId, 6, Buffer.from(Array.from({ length: 256 }, (_, i) => i))));
    const keysStored = await copyOutputBatch(database.sql, rows);
    expect([...keysStored!].sort()).toEqual(keys(rows));
    const back = await stored(jobId);
    expect(back.map((r) => r.seq)).toEqual(rows.map((r) => r.seq));
    for (const [i, r] of back.entries()) {
      expect(r.data.equals(rows[i]!.data)).toBe(true);
      expect(r.stream).toBe(rows[i]!.stream);
    }
    expect(await outputBytes(jobId)).toBe(rows.reduce((n, r) => n + r.data.length, 0));
  });

  it('stores several jobs in one batch, each counted on its own row', async () => {
    const [a, b] = [await insertJob(), await insertJob()];
    const rows = [chunk(a, 0, randomBytes(30_000)), chunk(b, 0, randomBytes(10_000)), chunk(a, 1, randomBytes(5))];
    expect((await copyOutputBatch(database.sql, rows))!.size).toBe(3);
    expect(await outputBytes(a)).toBe(30_005);
    expect(await outputBytes(b)).toBe(10_000);
  });
});

describe('output by COPY: retransmits', () => {
  it('a batch holding a chunk already stored stores and counts nothing, and storeOutputBatch then stores only the new ones', async () => {
    const jobId = await insertJob();
    const first = [chunk(jobId, 0, randomBytes(40_000)), chunk(jobId, 1, randomBytes(40_000))];
    await storeOutputBatch(database.sql, first);
    // The resent chunk is the LAST of the batch: the refusal comes after the COPY's end was sent
    // (vendor patch 8: this waited forever before).
    const again = [chunk(jobId, 2, randomBytes(40_000)), chunk(jobId, 3, randomBytes(1000)), first[1]!];
    expect(await copyOutputBatch(database.sql, again)).toBeUndefined();
    expect((await stored(jobId)).map((r) => r.seq)).toEqual([0, 1]);
    expect(await outputBytes(jobId)).toBe(80_000);

    const keysStored = await storeOutputBatch(database.sql, again);
    expect([...keysStored].sort()).toEqual(keys(again.slice(0, 2)));
    expect((await stored(jobId)).map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    expect(await outputBytes(jobId)).toBe(121_000);
  });

  it('small batches go through the INSERT, large ones through COPY, to the same result', async () => {
    const jobId = await insertJob();
    const small = [chunk(jobId, 0, Buffer.from('hi\n'))];
    const large = [chunk(jobId, 1, randomBytes(COPY_MIN_BATCH_BYTES))];
    expect((await storeOutputBatch(database.sql, small)).size).toBe(1);
    expect((await storeOutputBatch(database.sql, large)).size).toBe(1);
    expect((await storeOutputBatch(database.sql, [...small, ...large])).size).toBe(0);
    expect(await outputBytes(jobId)).toBe(3 + COPY_MIN_BATCH_BYTES);
  });
});

describe('output by COPY: the attempt fence and retention (issue 14)', () => {
  it("refuses an attempt that is over (a later one started, or the job waits to retry it) and an expired job's output, keeps the rest of the batch", async () => {
    const [moved, retrying, expired, fine] = [await insertJob(), await insertJob(), await insertJob(), await insertJob()];
    await database.sql`update jobs set attempt = 2 where id = ${moved}`;
    await database.sql`update jobs set status = 'queued', retry_at = now() + interval '1 minute' where id = ${retrying}`;
    await database.sql`update jobs set status = 'succeeded', output_expired_at = now() where id = ${expired}`;
    const rows = [
      chunk(moved, 0, randomBytes(20_000)),
      chunk(fine, 0, randomBytes(20_000)),
      chunk(retrying, 0, randomBytes(20_000)),
      chunk(moved, 0, randomBytes(7), 1, 2), // the current attempt of `moved`: kept
      chunk(expired, 5, randomBytes(20_000)),
    ];
    const keysStored = await copyOutputBatch(database.sql, rows);
    expect([...keysStored!].sort()).toEqual([`${fine}:1:0`, `${moved}:2:0`].sort());
    expect((await stored(moved)).map((r) => [r.attempt, r.seq])).toEqual([[2, 0]]);
    expect(await stored(retrying)).toEqual([]);
    expect(await stored(expired)).toEqual([]);
    expect((await stored(fine)).length).toBe(1);
    expect(await outputBytes(moved)).toBe(7);
    expect(await outputBytes(retrying)).toBe(0);
    expect(await outputBytes(expired)).toBe(0);
    expect(await outputBytes(fine)).toBe(20_000);
  });

  it('stores the chunks of a job with no row (uncounted: there is no row to count them on)', async () => {
    const ghost = newId('job');
    const keysStored = await copyOutputBatch(database.sql, [chunk(ghost, 0, randomBytes(40_000))]);
    expect([...keysStored!]).toEqual([`${ghost}:1:0`]);
    expect((await stored(ghost)).length).toBe(1);
  });
});
