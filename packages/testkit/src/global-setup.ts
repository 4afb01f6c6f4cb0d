import postgres from 'postgres';
import { Redis } from 'ioredis';
import { mkdirSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { ensureDashboardBuilt } from '../../dashboard/ensure-built.ts';
import { missingPrerequisites, missingPrerequisitesLine } from './prerequisites.ts';
import { createRunLogDir, findSecretsInLogs, LOG_DIR_VAR } from './service-logs.ts';
import { TEST_REDIS_URL } from './test-redis.ts';

/**
 * Fail the run at once, with the fix, when Postgres or Redis is not there, or (for the tests that
 * start processes: every project but `unit`) a program they need (prerequisites.ts). Then give the
 * run a directory for service logs; the teardown it returns fails the run if any log holds a secret.
 */
export default async function setup(project?: TestProject): Promise<() => void> {
  if (project?.name !== 'unit') {
    checkPrerequisites();
    // The API serves the dashboard's built files: build them once, before any file starts an API.
    ensureDashboardBuilt();
  }
  await checkServices();
  // Set before the test processes are forked, so every ServiceProcess in them writes here. Each
  // vitest project runs this setup (in the same process): the second one reuses the directory.
  // Set from outside (CI keeping the logs as artifacts), it should name an empty directory.
  const dir = (process.env[LOG_DIR_VAR] ??= createRunLogDir());
  mkdirSync(dir, { recursive: true });
  return function checkLogsForSecrets(): void {
    const leaks = findSecretsInLogs(dir);
    if (leaks.length === 0) return;
    // LOUD: vitest 4 prints an error thrown here ("error during close") but still exits 0:
    // the exit code is what fails `npm test` and CI, so set it, then throw for the message.
    process.exitCode = 1;
    throw new Error(
      `${leaks.length} service log(s) of this run contain a secret the tests used (no body, env value, header value or token may be logged):\n` +
        leaks.map((l) => `  ${l.label} in ${l.file}:\n    ${l.line}`).join('\n'),
    );
  };
}

/**
 * One line and exit 1, before a single file runs. Not thrown: vitest would print a stack under it,
 * and nothing runs yet that an exit could cut short.
 */
function checkPrerequisites(): void {
  const missing = missingPrerequisites();
  if (missing.length === 0) return;
  process.stderr.write(`${missingPrerequisitesLine(missing)}\n`);
  process.exit(1);
}

async function checkServices(): Promise<void> {
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
