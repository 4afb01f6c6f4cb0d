/**
 * The pool survives connections that drop while they start (issue 8, finding 4): postgres.js
 * reads the array types as the first statement of each new connection and discards that
 * promise, so a connection reset at that moment used to end the process with an unhandled
 * rejection. Here a proxy resets every connection the moment the types query goes by.
 */
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/index.ts';

const PG_PORT = Number(new URL(process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres').port || 5432);

/** Forwards to Postgres; while `resetOnTypesQuery`, resets a connection as its types query passes. */
class TypesQueryResetter {
  resetOnTypesQuery = true;
  resets = 0;
  private constructor(readonly server: Server) {}

  static async start(): Promise<TypesQueryResetter> {
    const server = createServer();
    const proxy = new TypesQueryResetter(server);
    server.on('connection', (client) => {
      const upstream = connect(PG_PORT, '127.0.0.1');
      client.on('error', () => {});
      upstream.on('error', () => {});
      client.on('data', (d: Buffer) => {
        if (proxy.resetOnTypesQuery && d.includes('pg_catalog.pg_type')) {
          proxy.resets++;
          client.resetAndDestroy();
          upstream.destroy();
          return;
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

describe('a Postgres connection reset while it starts', () => {
  let proxy: TypesQueryResetter;
  let database: Database;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    proxy = await TypesQueryResetter.start();
    database = openDatabase(proxy.url, { max: 3, connectTimeoutS: 5 });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await database?.sql.end({ timeout: 1 }).catch(() => {});
    proxy?.server.close();
  });

  it('fails the queries waiting on it and leaves no unhandled rejection; the pool works once connections hold', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => database.sql`select 1 as one`));
    expect(proxy.resets).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(String((o as PromiseRejectedResult).reason?.code ?? (o as PromiseRejectedResult).reason)).toMatch(/ECONNRESET|CONNECTION/);
    }
    // Unhandled rejections are reported once the microtask queue drains: let it, twice.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(unhandled.map((r) => String((r as Error)?.message ?? r))).toEqual([]);

    // The types still load on a connection that holds: arrays in and out keep working.
    proxy.resetOnTypesQuery = false;
    const [row] = await database.sql<{ a: number[]; t: string[]; hit: boolean }[]>`
      select array[1,2]::int4[] as a, array['x','y']::text[] as t, 2 = any(${[1, 2, 3]}::int4[]) as hit`;
    expect(row).toEqual({ a: [1, 2], t: ['x', 'y'], hit: true });
  });
});
