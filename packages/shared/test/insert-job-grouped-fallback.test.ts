/**
 * The submit group commit's fallback (jobs/insert-job-grouped.ts) against the real Postgres: when
 * Postgres refuses the multi-row INSERT for one row's content, every job of the batch is tried
 * alone, so each caller gets exactly what it would have got alone: the good jobs stored once each
 * and answered their own row, the refused one rejected with Postgres' own error, nothing doubled.
 *
 * How we know the jobs shared the failed statement: a row trigger counts every row Postgres was
 * asked to insert on a sequence (nextval survives the rollback of the statement that called it).
 * Alone from the start, the refused job would be seen once in all; in a failed batch, it is seen
 * in the batch and again alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import { openDatabase, type Database } from '../src/db/index.ts';
import { pgErrorCode } from '../src/db/pg-error-code.ts';
import { newId } from '../src/domain/ids.ts';
import { insertJobGrouped } from '../src/jobs/insert-job-grouped.ts';
import type { JobToInsert } from '../src/jobs/insert-jobs.ts';

let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('insert_grouped_fallback');
  database = openDatabase(testDb.url, { max: 4 });
  await database.sql.unsafe(`
    create sequence rows_seen;
    create function count_row_seen() returns trigger language plpgsql as $$ begin perform nextval('rows_seen'); return new; end $$;
    create trigger count_row_seen before insert on jobs for each row execute function count_row_seen();
  `);
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

const job = (command: string, id = newId('job')): JobToInsert => ({
  values: { id, status: 'queued', command, target: { type: 'local' }, env: {}, timeoutMs: 60_000, labels: {}, priority: 5 },
});

async function rowsSeen(): Promise<number> {
  const [row] = await database.sql<{ n: string; is_called: boolean }[]>`select last_value as n, is_called from rows_seen`;
  return row!.is_called ? Number(row!.n) : 0;
}

/** Submits `jobs` together (one event-loop turn: one batch), each caller's outcome kept apart. */
function submitTogether(jobs: JobToInsert[]) {
  return Promise.allSettled(jobs.map((j) => insertJobGrouped(database.sql, j)));
}

describe('insertJobGrouped: a batch Postgres refuses for one row', () => {
  it('control: the same shape of batch, all good, is ONE statement (so the cases below do coalesce)', async () => {
    const jobs = Array.from({ length: 8 }, (_, i) => job(`echo ok ${i}`));
    const outcomes = await submitTogether(jobs);
    expect(outcomes.map((o) => o.status)).toEqual(jobs.map(() => 'fulfilled'));
    const [stored] = await database.sql<{ n: number; txs: number }[]>`
      select count(*)::int as n, count(distinct xmin::text)::int as txs from jobs where id = any(${jobs.map((j) => j.values.id!)}::text[])`;
    expect(stored).toEqual({ n: 8, txs: 1 });
  });

  const cases: { name: string; bad: () => Promise<JobToInsert>; code: RegExp }[] = [
    {
      // An integrity constraint (class 23): the id of a row already stored.
      name: 'a duplicate primary key',
      bad: async () => {
        const taken = job('echo first');
        await insertJobGrouped(database.sql, taken);
        return job('echo duplicate', taken.values.id);
      },
      code: /^23505$/,
    },
    {
      // A data exception (class 22): text Postgres cannot store. The API's validation refuses it
      // before (storableText); here it stands for any value that slips past validation.
      name: 'a NUL in the command',
      bad: async () => job('echo \u0000 nul'),
      code: /^22/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: the others are stored once each and answered their row; the bad one alone gets Postgres' error`, async () => {
      const bad = await c.bad();
      const good = Array.from({ length: 7 }, (_, i) => job(`echo ${c.name} ${i}`));
      const batch = [...good.slice(0, 3), bad, ...good.slice(3)];
      const seenBefore = await rowsSeen();

      const outcomes = await submitTogether(batch);

      outcomes.forEach((o, i) => {
        if (batch[i] === bad) {
          expect(o.status).toBe('rejected');
          expect(pgErrorCode((o as PromiseRejectedResult).reason)).toMatch(c.code);
        } else {
          expect(o.status, String((o as PromiseRejectedResult).reason)).toBe('fulfilled');
          expect((o as PromiseFulfilledResult<unknown>).value).toMatchObject({ id: batch[i]!.values.id, command: batch[i]!.values.command, status: 'queued' });
        }
      });
      // Each good job once, by its id and by its command (no second row under another id);
      // each in a transaction of its own: the fallback stored them one by one.
      const rows = await database.sql<{ id: string; command: string; tx: string }[]>`
        select id, command, xmin::text as tx from jobs where command like ${`echo ${c.name} %`} order by command`;
      expect(rows.map((r) => r.id)).toEqual(good.map((g) => g.values.id));
      expect(new Set(rows.map((r) => r.tx)).size).toBe(good.length);
      const [badRows] = await database.sql<{ n: number }[]>`select count(*)::int as n from jobs where command = ${'echo duplicate'} or command like ${'echo %nul'}`;
      expect(badRows!.n).toBe(0);

      // The multi-row statement did run with the refused row in it (the trigger saw the rows of
      // the batch up to and including the bad one, 4), then each job alone (8).
      const seen = (await rowsSeen()) - seenBefore;
      if (c.name === 'a duplicate primary key') expect(seen).toBe(4 + batch.length);
      // A NUL is refused while the jsonb parameter is read, before any row reaches the trigger:
      // only the jobs alone are seen, the refused one included (its own insert fails at the parameter).
      else expect(seen).toBe(good.length);
    });
  }
});
