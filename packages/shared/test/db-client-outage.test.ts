/**
 * The pool survives connections that drop while they start (issue 8, finding 4): postgres.js
 * reads the array types as the first statement of each new connection and discards that
 * promise, so a connection reset at that moment used to end the process with an unhandled
 * rejection. Here a proxy breaks every connection the moment the types query goes by.
 */
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

    // The types still load on a connection that holds: arrays in and out keep working.
    proxy.breakOnTypesQuery = false;
    const [row] = await database.sql<{ a: number[]; t: string[]; hit: boolean }[]>`
      select array[1,2]::int4[] as a, array['x','y']::text[] as t, 2 = any(${[1, 2, 3]}::int4[]) as hit`;
    expect(row).toEqual({ a: [1, 2], t: ['x', 'y'], hit: true });
  });
});
