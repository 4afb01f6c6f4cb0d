/**
 * Issue 17 × issue 14: the retention pass deletes shell sessions and their recorded bytes under the
 * job rules: an ended session VMO_RETENTION_DAYS after it ended, with its output and input; its
 * bytes alone after VMO_OUTPUT_RETENTION_DAYS (the session stays listed); a session not ended never,
 * whatever its age. Real Postgres (a fresh migrated database), bounded statements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import { migrateDatabase, openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { runRetentionPass } from '../src/retention/index.ts';

const log = pino({ level: 'silent' });
let testDb: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('shell_retention');
  await migrateDatabase(testDb.url);
  database = openDatabase(testDb.url, { max: 4 });
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

/** A session opened `openedDaysAgo`, ended `endedDaysAgo` (null: still open), with `chunks` output rows and 2 input rows. */
async function session(openedDaysAgo: number, endedDaysAgo: number | null, chunks = 3): Promise<string> {
  const id = newId('shs');
  const sql = database.sql;
  await sql`insert into shell_sessions (id, target_kind, target_id, target_name, user_name, cols, rows, opened_at, ended_at, exit_code, recorded_bytes)
    values (${id}, 'agent', 'agt_x', 'box', 'admin', 80, 24, now() - make_interval(days => ${openedDaysAgo}),
      ${endedDaysAgo === null ? null : sql`now() - make_interval(days => ${endedDaysAgo})`}, ${endedDaysAgo === null ? null : 0}, ${chunks * 4})`;
  for (let i = 0; i < chunks; i++) await sql`insert into shell_output (session_id, stream, "offset", data) values (${id}, 1, ${i * 4}, ${Buffer.from('out\n')})`;
  for (let i = 0; i < 2; i++) await sql`insert into shell_output (session_id, stream, "offset", data) values (${id}, 0, ${i * 3}, ${Buffer.from('ls\r')})`;
  return id;
}

async function left(id: string): Promise<{ row: number; bytes: number }> {
  const [r] = await database.sql<{ row: number; bytes: number }[]>`select (select count(*)::int from shell_sessions where id = ${id}) as row,
    (select count(*)::int from shell_output where session_id = ${id}) as bytes`;
  return r!;
}

describe('shell sessions under retention', () => {
  it('ended past VMO_RETENTION_DAYS: gone with output and input; past VMO_OUTPUT_RETENTION_DAYS only: the bytes go, the row stays; newer or still open: untouched', async () => {
    const old = await session(41, 40, 10);
    const middle = await session(21, 20);
    const recent = await session(6, 5);
    const open = await session(400, null);
    const counts = await runRetentionPass({ database, log }, { policy: { jobDays: 30, outputDays: 14, auditDays: null }, batches: { outputRows: 4 } });
    expect(await left(old)).toEqual({ row: 0, bytes: 0 });
    expect(await left(middle)).toEqual({ row: 1, bytes: 0 });
    expect(await left(recent)).toEqual({ row: 1, bytes: 5 });
    expect(await left(open)).toEqual({ row: 1, bytes: 5 });
    expect(counts.shellSessions).toBe(1);
    expect(counts.shellOutputRows).toBe(12 + 5);
    // Bounded: 12 rows in statements of at most 4.
    expect(counts.largest.shellOutputRows).toBeLessThanOrEqual(4);
    expect(counts.statements.shellOutputRows).toBeGreaterThanOrEqual(4);
    // A second pass finds nothing more.
    const again = await runRetentionPass({ database, log }, { policy: { jobDays: 30, outputDays: 14, auditDays: null } });
    expect([again.shellSessions, again.shellOutputRows]).toEqual([0, 0]);
  });

  it('with retention off (0 days: null) nothing of a session goes', async () => {
    const old = await session(901, 900);
    const counts = await runRetentionPass({ database, log }, { policy: { jobDays: null, outputDays: null, auditDays: 365 } });
    expect(await left(old)).toEqual({ row: 1, bytes: 5 });
    expect(counts.shellSessions + counts.shellOutputRows).toBe(0);
    await database.sql`delete from shell_output where session_id = ${old}`;
    await database.sql`delete from shell_sessions where id = ${old}`;
  });

  it('the clock is the pass\'s `now`: a session ended yesterday goes in a pass dated 31 days ahead', async () => {
    const id = await session(2, 1);
    await runRetentionPass({ database, log }, { policy: { jobDays: 30, outputDays: 30, auditDays: null }, now: new Date(Date.now() + 31 * 86_400_000) });
    expect(await left(id)).toEqual({ row: 0, bytes: 0 });
  });
});
