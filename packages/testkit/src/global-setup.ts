import postgres from 'postgres';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from './test-redis.ts';

/** Fail the run at once, with the fix, when Postgres or Redis is not there. */
export default async function checkServices(): Promise<void> {
  const pgUrl = process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const sql = postgres(pgUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (err) {
    throw new Error(`Postgres is not answering at ${pgUrl} (${(err as Error).message}); start it (see README, "Tests")`);
  } finally {
    await sql.end({ timeout: 2 });
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not answering at ${TEST_REDIS_URL} (${(err as Error).message}); start it (see README, "Tests")`);
  } finally {
    redis.disconnect();
  }
}
