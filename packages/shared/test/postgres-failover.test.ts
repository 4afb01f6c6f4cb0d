/**
 * Issue 19, Postgres: a multi-host VMO_DATABASE_URL on a real primary and standby of the test's
 * own (testkit postgres-ha.ts: initdb, pg_basebackup, pg_ctl promote). Migrations land on the
 * primary whichever host is listed first; a pooled connection whose server turned read-only
 * (SQLSTATE 25006) is discarded and the next write finds the promoted standby; with synchronous
 * replication, no acknowledged write is lost when the primary is killed -9.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgresPackage from 'postgres';
import { PostgresPair } from '@vmo/testkit';
import { openDatabase } from '../src/db/client.ts';
import { migrateDatabase } from '../src/db/migrate.ts';

const direct = (url: string) => postgresPackage(url, { max: 1, onnotice: () => {} });

async function ask<T>(url: string, query: (sql: ReturnType<typeof direct>) => Promise<T>): Promise<T> {
  const sql = direct(url);
  try {
    return await query(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

describe('a primary and an asynchronous standby', () => {
  let pair: PostgresPair;
  beforeAll(async () => (pair = await PostgresPair.start()), 120_000);
  afterAll(async () => pair?.stop());

  it('migrates on the primary even when the standby is listed first (no target_session_attrs given: read-write is the default)', async () => {
    await migrateDatabase(pair.url('vmo_ha', ['standby', 'primary'], ''));
    const tables = await ask(pair.urlOf('primary', 'vmo_ha'), (sql) => sql<{ n: number }[]>`select count(*)::int as n from information_schema.tables where table_name in ('jobs', 'job_output')`);
    expect(tables[0]!.n).toBe(2);
  });

  it('discards a connection whose server turned read-only (25006) and writes on the promoted standby', async () => {
    await ask(pair.urlOf('primary', 'vmo_ha'), (sql) => sql`create table ha_probe (n int primary key)`);
    const database = openDatabase(pair.url('vmo_ha', ['primary', 'standby']), { max: 1 });
    try {
      const portOf = async () => (await database.sql<{ port: number }[]>`select inet_server_port() as port`)[0]!.port;
      await database.sql`insert into ha_probe values (1)`;
      expect(await portOf()).toBe(pair.primaryPort);
      // The old primary stays up but refuses writes (as a demoted one would); the standby takes over.
      await ask(pair.urlOf('primary'), async (sql) => {
        await sql`alter system set default_transaction_read_only = on`;
        await sql`select pg_reload_conf()`;
      });
      pair.promote();
      const refused = await database.sql`insert into ha_probe values (2)`.then(() => undefined, (err: { code?: string }) => err.code);
      expect(refused).toBe('25006');
      // The same pool, its one connection replaced: the write lands on the new primary.
      await database.sql`insert into ha_probe values (3)`;
      expect(await portOf()).toBe(pair.standbyPort);
      const rows = await ask(pair.urlOf('standby', 'vmo_ha'), (sql) => sql<{ n: number }[]>`select n from ha_probe order by n`);
      expect(rows.map((r) => r.n)).toEqual([1, 3]);
    } finally {
      await database.close();
    }
  });
});

describe('a primary and a synchronous standby (synchronous_standby_names)', () => {
  let pair: PostgresPair;
  beforeAll(async () => (pair = await PostgresPair.start({ synchronous: true })), 120_000);
  afterAll(async () => pair?.stop());

  it('loses no acknowledged write when the primary is killed -9 and the standby promoted', async () => {
    await migrateDatabase(pair.url('vmo_ha'));
    await ask(pair.urlOf('primary', 'vmo_ha'), (sql) => sql`create table ha_writes (n int primary key)`);
    const database = openDatabase(pair.url('vmo_ha'), { max: 4, connectTimeoutS: 2 });
    const acknowledged: number[] = [];
    let failed = 0;
    let next = 0;
    let promotedAcks = 0;
    let stop = false;
    const writer = async () => {
      while (!stop) {
        const n = next++;
        try {
          await database.sql`insert into ha_writes values (${n})`;
          acknowledged.push(n);
          if (promoted) promotedAcks++;
        } catch {
          failed++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    let promoted = false;
    try {
      const writers = Array.from({ length: 4 }, writer);
      while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 10));
      pair.killPrimary();
      const ackedAtKill = acknowledged.length;
      pair.promote();
      promoted = true;
      while (promotedAcks < 50) await new Promise((r) => setTimeout(r, 10));
      stop = true;
      await Promise.all(writers);
      const stored = await ask(pair.urlOf('standby', 'vmo_ha'), (sql) => sql<{ n: number }[]>`select n from ha_writes`);
      const have = new Set(stored.map((r) => r.n));
      const lost = acknowledged.filter((n) => !have.has(n));
      expect(lost).toEqual([]);
      console.log(`[ha postgres] synchronous standby: ${acknowledged.length} writes acknowledged (${ackedAtKill} before the kill), ${failed} refused during the failover, 0 lost`);
    } finally {
      stop = true;
      await database.close();
    }
  }, 120_000);
});
