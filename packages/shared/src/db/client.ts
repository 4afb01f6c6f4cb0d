import type { Sql } from 'postgres';
// postgres.js 3.4.9 (the latest release) with fixes for what a store outage does to it: see
// packages/shared/vendor/postgres/PATCHES.md. The types are the package's own.
import postgres from '../../vendor/postgres/src/index.js';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import * as schema from './schema/index.ts';
import { parsePostgresUrl } from '../config/postgres-url.ts';

export type { Sql };
/** The patched driver, for the few places that open a connection of their own (migrations). */
export { postgres };
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
 * With several hosts in the URL and no `target_session_attrs`, ask for the primary: a pool or a
 * migration that landed on a standby would fail every write. One host: as given.
 */
export function primaryOnly(url: string): { target_session_attrs?: 'read-write' } {
  const u = parsePostgresUrl(url);
  return u && u.hosts.length > 1 && u.params.get('target_session_attrs') === null ? { target_session_attrs: 'read-write' } : {};
}

/**
 * One pool per process. A connection whose server turned read-only (SQLSTATE 25006: a demoted
 * primary) is closed once idle and replaced (vendor patch 5), so the pool finds the new primary. `bigint` counts come back as numbers (output sizes stay far below 2^53);
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
    ...primaryOnly(url),
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
