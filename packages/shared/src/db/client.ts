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
 * One pool per process. `bigint` counts come back as numbers (output sizes stay far below 2^53);
 * bytea comes back as Buffer. Notices are silenced: `ON CONFLICT DO NOTHING` is not news.
 */
export function openDatabase(url: string, options: { max?: number; connectTimeoutS?: number } = {}): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutS ?? 5,
    idle_timeout: 60,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
