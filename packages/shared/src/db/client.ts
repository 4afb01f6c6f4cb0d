import postgres, { type Sql } from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import * as schema from './schema/index.ts';

export type { Sql };
export type Db = PostgresJsDatabase<typeof schema>;

export interface Database {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

/**
 * Seconds before a pooled connection that failed tries again. postgres.js's default grows as 3^n
 * with one failure count shared by the whole pool, up to 20 s: after a 30 s outage every process
 * then waited up to 20 s more before it noticed Postgres was back (jobs' output held, submissions
 * refused). Capped at ~1 s (jittered), a process is back within a second of Postgres, and a
 * down database sees at most a few attempts per second per process.
 */
function reconnectDelayS(failures: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** failures, 1);
}

/**
 * One pool per process. `bigint` counts come back as numbers (output sizes stay far below 2^53);
 * bytea comes back as Buffer. Notices are silenced: `ON CONFLICT DO NOTHING` is not news.
 */
export function openDatabase(url: string, options: { max?: number; connectTimeoutS?: number } = {}): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutS ?? 5,
    idle_timeout: 60,
    backoff: reconnectDelayS,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}

/** The parts of postgres.js's (unexported) Query class this workaround relies on. */
interface InternalQuery {
  tagged: boolean;
  strings: readonly string[];
  resolve: (rows: unknown[]) => void;
  reject: (err: unknown) => void;
  handle: (...args: unknown[]) => unknown;
}

const PATCHED = Symbol.for('vmo.postgres.settleTypesFetchQuietly');

/**
 * LOUD: postgres.js (3.4.9, the latest) reads the array types with an internal query as the first
 * statement of every new connection, and discards that query's promise (porsager/postgres#1192).
 * When the connection drops before the answer (an outage starting, a reset during a reconnect),
 * the rejection is unhandled and Node ends the process: that is how a Postgres outage killed
 * the worker (`connect ECONNRESET` with no query in its stack). The same error already reaches
 * every query waiting on that connection, and the next connection fetches the types again, so
 * this one internal query settles with no rows instead of rejecting. Patched once per process,
 * on the shared Query prototype, matched by its text (it is the only untagged pg_type read).
 * Drop it once a postgres.js release fixes #1192.
 */
function settleTypesFetchQuietly(sql: Sql): void {
  const proto = Object.getPrototypeOf(sql.unsafe('select 1')) as InternalQuery & { [PATCHED]?: true };
  if (proto[PATCHED] || typeof proto.handle !== 'function') return;
  const handle = proto.handle;
  proto.handle = function (this: InternalQuery, ...args: unknown[]) {
    if (!this.tagged && isTypesFetch(this.strings)) {
      const resolve = this.resolve;
      this.reject = () => resolve([]);
    }
    return handle.apply(this, args);
  };
  proto[PATCHED] = true;
}

function isTypesFetch(strings: readonly string[]): boolean {
  const text = strings.length === 1 ? strings[0]! : '';
  return text.includes('from pg_catalog.pg_type a') && text.includes('b.typarray');
}

// At load, not per pool: every pool of the process shares the prototype, the migrator's too.
// The throwaway instance never connects (postgres.js connects on a query's first `then`).
settleTypesFetchQuietly(postgres({ host: '127.0.0.1', port: 1, max: 1 }));
