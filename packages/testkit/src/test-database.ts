import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { migrateDatabase } from '@vmo/shared/db';

const BASE = process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, so files can run in parallel. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const db = unusedTestDatabase(label);
  await migrateDatabase(db.url);
  return db;
}

/**
 * The URL of a database that does not exist yet, for tests of a first start (the process must
 * create and migrate it). `drop` removes it whether or not it was ever created.
 */
export function unusedTestDatabase(label = 'test'): TestDatabase {
  const name = `vmo_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const admin = postgres(BASE, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}
