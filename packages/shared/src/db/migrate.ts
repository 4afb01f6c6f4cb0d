import { fileURLToPath } from 'node:url';
import { parsePostgresUrl } from '../config/postgres-url.ts';
import { postgres, primaryOnly } from './client.ts';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';

const MIGRATIONS = fileURLToPath(new URL('../../drizzle', import.meta.url));
// Any constant works; it only has to be the same in every process of every version.
const MIGRATION_LOCK = 0x766d6f; // "vmo"

/** Create the database named in `url` if it does not exist (several processes may race: fine). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = parsePostgresUrl(url);
  const name = target?.database ?? '';
  if (!target || !name) return;
  // On the primary, as the migrations (several hosts: the one that takes writes).
  const sql = postgres(target.withDatabase('postgres'), { max: 1, onnotice: () => {}, connect_timeout: 5, ...primaryOnly(url) });
  try {
    const [row] = await sql`select 1 as ok from pg_database where datname = ${name}`;
    if (!row) {
      await sql.unsafe(`create database "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04' && err.code !== '23505') throw err; // created by a concurrent process
      });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Apply the committed migrations. Several processes may start at once, so the whole run holds
 * a session advisory lock on its own connection; the second one finds nothing left to do.
 */
export async function migrateDatabase(url: string): Promise<void> {
  await ensureDatabase(url);
  // LOUD: on the primary only. A standby would refuse the DDL (25006); with several hosts and no
  // target_session_attrs the first host that answers might be one.
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5, ...primaryOnly(url) });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS });
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
