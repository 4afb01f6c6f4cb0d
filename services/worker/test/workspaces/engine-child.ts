/**
 * A worker stand-in for the engine's takeover test (engine-takeover.test.ts): a workspace engine in
 * its own process, so the test can SIGKILL it midway through an operation.
 *
 *   node --import tsx engine-child.ts <database URL> <redis prefix> <worker id>
 *
 * Prints "ready" once its engine polls.
 */
import { commonSchema, tryParseEnv } from '@vmo/shared/config';
import { openControlPlane } from '@vmo/shared/control-plane';
import { createLogger } from '@vmo/shared/logger';
import { TEST_REDIS_URL } from '@vmo/testkit';
import { startWorkspaceEngine } from '../../src/workspaces/engine/index.ts';

const [databaseUrl, prefix, workerId] = process.argv.slice(2);
if (!databaseUrl || !prefix || !workerId) {
  console.error('usage: engine-child.ts <database URL> <redis prefix> <worker id>');
  process.exit(2);
}
const config = tryParseEnv(commonSchema, { VMO_DATABASE_URL: databaseUrl, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: prefix });
const cp = await openControlPlane(config, createLogger('engine-child', 'silent'), { dbPoolSize: 3 });
startWorkspaceEngine(cp, { workerId, agentUrl: 'http://127.0.0.1:3121', timeoutMs: 60_000, takeoverMs: 1_500, concurrency: 4, pollMs: 100, heartbeatMs: 200 });
console.log('ready');
