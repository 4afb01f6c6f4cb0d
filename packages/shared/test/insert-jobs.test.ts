/**
 * The multi-row job insert of the submit group commit (jobs/insert-jobs.ts) against the real
 * Postgres: each job of a batch stored exactly as insertJob stores it alone, a job naming an
 * unknown (or revoked) agent left out alone, a runAt ahead held, and the grouped path answering
 * each concurrent caller its own row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import { migrateDatabase, openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { insertJobs, type JobToInsert } from '../src/jobs/insert-jobs.ts';
import { insertJob } from '../src/jobs/insert-job.ts';
import { insertJobGrouped } from '../src/jobs/insert-job-grouped.ts';

let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('insert_jobs');
  await migrateDatabase(testDb.url);
  database = openDatabase(testDb.url, { max: 4 });
  await database.sql`insert into agents (id, name, token_hash, labels) values ('agt_live', 'web-1', 'h1', '{}'::jsonb), ('agt_gone', 'old-1', 'h2', '{}'::jsonb)`;
  await database.sql`update agents set revoked_at = now() where id = 'agt_gone'`;
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

const job = (over: Partial<JobToInsert['values']> = {}, agentRef?: string): JobToInsert => ({
  values: {
    id: newId('job'),
    status: 'queued',
    command: 'echo hi',
    target: agentRef ? { type: 'agent', agent: agentRef } : { type: 'local' },
    agentId: null,
    hostId: null,
    env: { A: 'b' },
    secretEnvNames: null,
    cwd: null,
    timeoutMs: 60_000,
    labels: { team: 'x' },
    createdBy: 'tester',
    ownerId: null,
    runAt: null,
    priority: 7,
    retry: null,
    retainDays: null,
    commandName: null,
    commandVersion: null,
    ...over,
  },
  agentRef,
});

describe('insertJobs', () => {
  it('stores each job of a batch as insertJob stores it alone; an unknown or revoked agent leaves out that job only', async () => {
    const batch = [job(), job({}, 'web-1'), job({}, 'nobody'), job({}, 'agt_live'), job({}, 'old-1'), job({ runAt: new Date(Date.now() + 3600_000), retainDays: 3 })];
    const rows = await insertJobs(database.sql, batch);
    expect(rows.map((r) => r?.id)).toEqual([batch[0]!.values.id, batch[1]!.values.id, undefined, batch[3]!.values.id, undefined, batch[5]!.values.id]);
    expect(rows[1]!.agentId).toBe('agt_live');
    expect(rows[3]!.agentId).toBe('agt_live');
    expect(rows[5]!.releasedAt).toBeNull(); // held until its runAt
    expect(rows[5]!.retainDays).toBe(3);
    const [stored] = await database.sql`select count(*)::int as n from jobs where id = any(${batch.map((b) => b.values.id!)}::text[])`;
    expect(stored!.n).toBe(4);

    // The same job alone, through insertJob: the same row but for id and times.
    const single = job({}, 'web-1');
    const alone = (await insertJob(database.sql, single.values, single.agentRef))!;
    const norm = (r: Record<string, unknown>) => ({ ...r, id: 'x', createdAt: 'x', statusXid: 'x', releasedAt: r.releasedAt === null ? null : 'set' });
    expect(norm(rows[1]! as never)).toEqual(norm(alone as never));
  });

  it('insertJobGrouped: 100 concurrent callers each get their own row, in fewer statements than callers', async () => {
    const jobs = Array.from({ length: 100 }, (_, i) => job({ command: `echo ${i}` }, i === 37 ? 'nobody' : undefined));
    const rows = await Promise.all(jobs.map((j) => insertJobGrouped(database.sql, j)));
    rows.forEach((r, i) => {
      if (i === 37) expect(r).toBeUndefined();
      else expect(r).toMatchObject({ id: jobs[i]!.values.id, command: `echo ${i}` });
    });
    const [stored] = await database.sql`select count(*)::int as n, count(distinct xmin::text)::int as txs from jobs where id = any(${jobs.map((j) => j.values.id!)}::text[])`;
    expect(stored!.n).toBe(99);
    expect(stored!.txs).toBeLessThan(99); // shared statements (one transaction each)
  });
});
