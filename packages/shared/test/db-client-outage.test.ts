/**
 * The Postgres pool under connection resets (issue 8, finding 4; the driver's fixes are listed in
 * packages/shared/vendor/postgres/PATCHES.md). A connection broken while it starts must not end
 * the process; a pool whose connections are reset again and again must answer every query, each
 * with its own answer, never hang and never throw from a timer.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, seededRandom, TcpProxy, type TestDatabase } from '@vmo/testkit';
import { openDatabase, type Database } from '../src/db/index.ts';

const PG_PORT = Number(new URL(process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres').port || 5432);

/**
 * Forwards to Postgres. While `breakOnTypesQuery`, a connection is broken as its types query goes
 * by: `reset` sends an RST; `fin` closes it cleanly and refuses (accepts and resets) new
 * connections for 300 ms, so postgres.js's immediate reconnect fails with `connect ECONNRESET`
 * (the exact error that ended the worker in issue 8).
 */
class TypesQueryBreaker {
  breakOnTypesQuery = true;
  breaks = 0;
  private refuseUntil = 0;
  private constructor(
    readonly server: Server,
    private readonly mode: 'reset' | 'fin',
  ) {}

  static async start(mode: 'reset' | 'fin'): Promise<TypesQueryBreaker> {
    const server = createServer();
    const proxy = new TypesQueryBreaker(server, mode);
    server.on('connection', (client) => {
      client.on('error', () => {});
      if (Date.now() < proxy.refuseUntil) return client.resetAndDestroy();
      const upstream = connect(PG_PORT, '127.0.0.1');
      upstream.on('error', () => {});
      client.on('data', (d: Buffer) => {
        if (proxy.breakOnTypesQuery && d.includes('pg_catalog.pg_type')) {
          proxy.breaks++;
          upstream.destroy();
          if (proxy.mode === 'reset') return void client.resetAndDestroy();
          proxy.refuseUntil = Date.now() + 300;
          return void client.end();
        }
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return proxy;
  }

  /** Let every connection through from now on. */
  heal(): void {
    this.breakOnTypesQuery = false;
    this.refuseUntil = 0;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${(this.server.address() as AddressInfo).port}/postgres`;
  }
}

describe.each(['reset', 'fin'] as const)('a Postgres connection broken while it starts (%s)', (mode) => {
  let proxy: TypesQueryBreaker;
  let database: Database;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    proxy = await TypesQueryBreaker.start(mode);
    database = openDatabase(proxy.url, { max: 3, connectTimeoutS: 5 });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await database?.sql.end({ timeout: 1 }).catch(() => {});
    proxy?.server.close();
  });

  it('fails the queries waiting on it and leaves no unhandled rejection; the pool works once connections hold', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => database.sql`select 1 as one`));
    expect(proxy.breaks).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(String((o as PromiseRejectedResult).reason?.code ?? (o as PromiseRejectedResult).reason)).toMatch(/ECONNRESET|CONNECTION/);
    }
    // Unhandled rejections are reported once the microtask queue drains: let it, twice.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(unhandled.map((r) => String((r as Error)?.message ?? r))).toEqual([]);

    // The types still load on a connection that holds: arrays in and out keep working. (In `fin`
    // mode the proxy also refuses new connections for 300 ms after a break: stop that too.)
    proxy.heal();
    const [row] = await database.sql<{ a: number[]; t: string[]; hit: boolean }[]>`
      select array[1,2]::int4[] as a, array['x','y']::text[] as t, 2 = any(${[1, 2, 3]}::int4[]) as hit`;
    expect(row).toEqual({ a: [1, 2], t: ['x', 'y'], hit: true });
  });
});

describe('a pool whose connections are reset again and again', () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  let direct: Database;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    testDb = await createTestDatabase('pool_resets');
    direct = openDatabase(testDb.url, { max: 1 });
    await direct.sql`create table echo (id text primary key, data bytea)`;
    proxy = await TcpProxy.start(Number(new URL(testDb.url).port || 5432));
    const url = new URL(testDb.url);
    url.port = String(proxy.port);
    database = openDatabase(url.toString(), { max: 4, connectTimeoutS: 2 });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    proxy?.restore();
    await database?.sql.end({ timeout: 1 }).catch(() => {});
    await direct?.close();
    await proxy?.close();
    await testDb?.drop();
  });

  it('answers every query with its own answer or an error, hangs on none, and recovers', async () => {
    const { sql } = database;
    const seed = Number(process.env.VMO_CHAOS_SEED ?? Date.now() % 2 ** 31);
    const random = seededRandom(seed);
    // Each kind of statement returns what identifies it, so an answer meant for another is seen.
    const kinds: ((w: number) => Promise<boolean>)[] = [
      async (w) => (await sql<{ w: number }[]>`select ${w}::int as w`)[0]?.w === w,
      async (w) => (await sql.unsafe<{ w: number }[]>('select $1::int as w', [w], { prepare: false }))[0]?.w === w,
      async () => {
        const id = randomBytes(8).toString('hex');
        const rows = await sql<{ id: string }[]>`insert into echo ${sql([{ id, data: randomBytes(Math.floor(random() * 300_000)) }])} returning id`;
        return rows[0]?.id === id;
      },
      async () => {
        const id = randomBytes(8).toString('hex');
        return (await sql<{ id: string }[]>`insert into echo (id) select ${id} where exists (select 1 from echo where false) or true returning id`)[0]?.id === id;
      },
      async (w) => (await sql.begin(async (tx) => (await tx<{ w: number }[]>`select ${w}::int as w`)[0]?.w)) === w,
    ];
    const counts = { ok: 0, failed: 0, wrong: 0, unsettled: 0 };
    const until = Date.now() + 8000;
    const resets = (async () => {
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20 + random() * 300));
        if (random() < 0.4) proxy.dropOpen();
        else {
          proxy.cut();
          await new Promise((r) => setTimeout(r, random() * 200));
          proxy.restore();
        }
      }
      proxy.restore();
    })();
    const client = async (w: number) => {
      while (Date.now() < until) {
        const query = kinds[Math.floor(random() * kinds.length)]!(w);
        const outcome = await Promise.race([
          query.then((right) => (right ? ('ok' as const) : ('wrong' as const)), () => 'failed' as const),
          new Promise<'unsettled'>((r) => setTimeout(() => r('unsettled'), 10_000)),
        ]);
        counts[outcome]++;
        if (outcome === 'unsettled') return;
      }
    };
    await Promise.all([resets, ...Array.from({ length: 12 }, (_, w) => client(w))]);
    console.log(`[pool resets] seed ${seed}: ${JSON.stringify(counts)}`);
    expect(counts.failed).toBeGreaterThan(0); // the resets did reach queries
    expect({ wrong: counts.wrong, unsettled: counts.unsettled }).toEqual({ wrong: 0, unsettled: 0 });
    expect(crashes.map((e) => String((e as Error)?.stack ?? e))).toEqual([]);
    // Back to normal: the pool answers again.
    const [row] = await sql<{ ok: number }[]>`select 1 as ok`;
    expect(row?.ok).toBe(1);
  }, 60_000);
});
