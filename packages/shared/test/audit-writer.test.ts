/**
 * The audit writer against the real Postgres (issue 11 §Audit): a row is stored when record()
 * resolves, concurrent rows share statements, a row Postgres refuses does not take its
 * batch-mates with it, an outage holds callers until Postgres is back (or the retry deadline
 * rejects them), and the table itself refuses UPDATE and DELETE (migration 0010's trigger).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createTestDatabase, TcpProxy, waitFor, type TestDatabase } from '@vmo/testkit';
import { AuditWriter, listAuditEvents, type AuditEvent } from '../src/audit/index.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { createLogger } from '../src/logger.ts';

let testDb: TestDatabase;
let database: Database;
const silent = createLogger('audit-writer-test', 'silent');

beforeAll(async () => {
  testDb = await createTestDatabase('audit_writer');
  database = openDatabase(testDb.url);
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

function event(requestId: string, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    actorKind: 'user',
    actorId: 'usr_test',
    actorName: 'alice',
    tokenId: 'tok_test',
    action: 'jobs.submit',
    resourceType: 'jobs',
    resourceId: null,
    targets: ['web-1'],
    sourceIp: '127.0.0.1',
    requestId,
    result: 'allowed',
    status: 201,
    detail: null,
    ...over,
  };
}

const rowsOf = (prefix: string) =>
  database.sql<{ request_id: string; xmin: string; targets: string[] | null; resource_id: string | null; detail: unknown }[]>`
    select request_id, xmin::text, targets, resource_id, detail from audit_events where starts_with(request_id, ${prefix}) order by id`;

describe('AuditWriter', () => {
  it('a row is in the table when record() resolves', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    await writer.record(event('one-1', { detail: { code: 'forbidden' } }));
    const [row] = await rowsOf('one-');
    expect(row).toMatchObject({ request_id: 'one-1', targets: ['web-1'], detail: { code: 'forbidden' } });
    await writer.close();
  });

  it('concurrent rows share INSERTs: 300 rows, every one stored, in far fewer statements', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    await Promise.all(Array.from({ length: 300 }, (_, i) => writer.record(event(`many-${i}`))));
    const rows = await rowsOf('many-');
    expect(rows.map((r) => r.request_id).sort()).toEqual(Array.from({ length: 300 }, (_, i) => `many-${i}`).sort());
    // Rows written by one statement share its transaction id.
    expect(new Set(rows.map((r) => r.xmin)).size).toBeLessThanOrEqual(10);
    await writer.close();
  });

  it('text Postgres cannot store (NUL, an unpaired surrogate) is stored replaced, with its batch-mates', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    await Promise.all([
      writer.record(event('odd-1', { resourceId: 'a\0b', targets: ['x\uD800y'], detail: { field: 'k\0' } })),
      writer.record(event('odd-2')),
    ]);
    const rows = await rowsOf('odd-');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ resource_id: 'a\uFFFDb', targets: ['x\uFFFDy'], detail: { field: 'k\uFFFD' } });
  });

  it('a row Postgres refuses fails alone: the rest of its batch is stored', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    const outcomes = await Promise.allSettled([
      writer.record(event('poison-1')),
      // actor_kind is NOT NULL: a content error no retry can fix.
      writer.record(event('poison-2', { actorKind: null as never })),
      writer.record(event('poison-3')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await rowsOf('poison-')).map((r) => r.request_id)).toEqual(['poison-1', 'poison-3']);
  });

  it('while Postgres is unreachable record() waits, and resolves once the row is stored', async () => {
    const proxy = await TcpProxy.start(Number(new URL(testDb.url).port || 5432));
    const viaProxy = new URL(testDb.url);
    viaProxy.port = String(proxy.port);
    const remote = openDatabase(viaProxy.toString(), { max: 2, connectTimeoutS: 2 });
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (line, _enc, done) => (warnings.push(line.toString()), done()) }));
    const writer = new AuditWriter({ sql: remote.sql, log, retryForMs: 60_000 });
    try {
      await writer.record(event('outage-0'));
      proxy.cut();
      let settled = 0;
      const during = Array.from({ length: 3 }, (_, i) => writer.record(event(`outage-${i + 1}`)).then(() => void settled++));
      await waitFor('the writer to report a failed insert', () => warnings.some((w) => w.includes('audit insert failed')), 30_000);
      await waitFor('the writer to retry', () => proxy.refused >= 2, 30_000);
      expect(settled).toBe(0);
      proxy.restore();
      await Promise.all(during);
      expect((await rowsOf('outage-')).map((r) => r.request_id).sort()).toEqual(['outage-0', 'outage-1', 'outage-2', 'outage-3']);
    } finally {
      proxy.restore();
      await writer.close().catch(() => {});
      await remote.close().catch(() => {});
      await proxy.close();
    }
  });

  it('past its retry deadline record() rejects, so the caller can log the row it could not store', async () => {
    const proxy = await TcpProxy.start(Number(new URL(testDb.url).port || 5432));
    const viaProxy = new URL(testDb.url);
    viaProxy.port = String(proxy.port);
    const remote = openDatabase(viaProxy.toString(), { max: 1, connectTimeoutS: 1 });
    const writer = new AuditWriter({ sql: remote.sql, log: silent, retryForMs: 300 });
    try {
      proxy.cut();
      await expect(writer.record(event('given-up-1'))).rejects.toBeInstanceOf(Error);
    } finally {
      proxy.restore();
      await writer.close().catch(() => {});
      await remote.close().catch(() => {});
      await proxy.close();
    }
    expect(await rowsOf('given-up-')).toHaveLength(0);
  });
});

describe('audit_events is append-only', () => {
  it('UPDATE and DELETE are refused by the trigger, whoever asks', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    await writer.record(event('append-only-1'));
    await expect(database.sql`update audit_events set result = 'allowed', status = 200 where request_id = 'append-only-1'`).rejects.toThrow(/append-only \(UPDATE\)/);
    await expect(database.sql`delete from audit_events where request_id = 'append-only-1'`).rejects.toThrow(/append-only \(DELETE\)/);
    await expect(database.sql`update audit_events set actor_name = 'someone else'`).rejects.toThrow(/append-only/);
    expect(await rowsOf('append-only-')).toHaveLength(1);
  });

  it('only a transaction that declares itself retention may delete', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    await writer.record(event('retention-1'));
    await database.sql.begin(async (tx) => {
      await tx`select set_config('vmo.audit_retention', 'on', true)`;
      await tx`delete from audit_events where request_id = 'retention-1'`;
    });
    expect(await rowsOf('retention-')).toHaveLength(0);
  });
});

describe('listAuditEvents', () => {
  it('pages newest first without gaps or repeats, through rows written by one statement', async () => {
    const writer = new AuditWriter({ sql: database.sql, log: silent });
    await Promise.all(Array.from({ length: 25 }, (_, i) => writer.record(event(`page-${i}`, { action: 'hosts.import', actorName: 'pager' }))));
    const seen: string[] = [];
    let after;
    for (let page = 0; page < 10; page++) {
      const rows = await listAuditEvents(database.sql, { actor: 'pager', limit: 7, after });
      seen.push(...rows.map((r) => r.requestId!));
      if (rows.length < 7) break;
      after = rows.at(-1)!.cursor;
    }
    const all = await database.sql<{ request_id: string }[]>`select request_id from audit_events where actor_name = 'pager' order by at desc, id desc`;
    expect(seen).toEqual(all.map((r) => r.request_id));
    expect(new Set(seen).size).toBe(25);
  });
});
