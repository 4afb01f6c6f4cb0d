/**
 * `npm start`: the whole control plane in one process for a single machine — API, worker and a
 * built-in agent named `local` — so `{"type":"agent","agent":"local"}` works right after start.
 * Real deployments run `npm run api`, `npm run worker` and `npm run agent` separately.
 *
 * This is the composition root: the one place that depends on every service, so that no service
 * depends on another (services/api knows nothing of the worker or the agent).
 */
import { issueBuiltInAgentToken } from '@vmo/shared/agents';
import { logUnhandledRejections } from '@vmo/shared/background';
import { parseEnv } from '@vmo/shared/config';
import { migrateDatabase, openDatabase } from '@vmo/shared/db';
import { createLogger } from '@vmo/shared/logger';
import { onShutdownSignal } from '@vmo/shared/shutdown';
import { printVersionIfAsked, startOrExit } from '@vmo/shared/startup';
import pkg from '../package.json' with { type: 'json' };
import { startAgent } from '@vmo/agent';
import { apiEnv, printAdminToken, startApi } from '@vmo/api';
import { startWorker, workerEnv } from '@vmo/worker';

const BUILT_IN_AGENT = 'local';

printVersionIfAsked('vmo', pkg.version);
const apiConfig = parseEnv(apiEnv);
// One /metrics for the whole process, on the API's port: the worker serves none of its own here.
const workerConfig = { ...parseEnv(workerEnv), VMO_METRICS_PORT: undefined };
const log = createLogger('vmo', apiConfig.VMO_LOG_LEVEL);
logUnhandledRejections(log);

// The built-in agent is registered before the API listens: a job for "local" sent as soon as
// /health/ready answers must find it (it waits queued until the agent has connected).
// A start that cannot work says why in one line naming the setting (startOrExit).
await startOrExit({ service: 'vmo', settings: apiConfig, log }, () => migrateDatabase(apiConfig.VMO_DATABASE_URL));
// Inside the wrapper too: a Postgres that drops between the migration and this is the same one line.
const { token } = await startOrExit({ service: 'vmo', settings: apiConfig, log, checkRedis: false }, async () => {
  const database = openDatabase(apiConfig.VMO_DATABASE_URL, { max: 1 });
  try {
    return await issueBuiltInAgentToken({ database }, BUILT_IN_AGENT);
  } finally {
    await database.close().catch(() => {});
  }
});
const api = await startOrExit({ service: 'vmo', settings: apiConfig, log, checkRedis: false }, () => startApi(apiConfig, log.child({ role: 'api' })));
const worker = await startOrExit({ service: 'vmo', settings: workerConfig, log, checkRedis: false }, () => startWorker(workerConfig, log.child({ role: 'worker' })));
const agent = startAgent({
  servers: [api.url],
  token,
  runAs: workerConfig.VMO_RUN_AS, // the built-in agent's jobs run on this machine too
  logLevel: apiConfig.VMO_LOG_LEVEL === 'silent' ? 'error' : (apiConfig.VMO_LOG_LEVEL as 'info'),
  onFatal: (reason) => log.error({ reason }, 'built-in agent stopped'),
});

printAdminToken(api.generatedAdminToken, api.url);
process.stdout.write(`vmo is running at ${api.url} (API, worker and the built-in agent "${BUILT_IN_AGENT}")\n`);

onShutdownSignal(async () => {
  await agent.stop();
  await worker.close();
  await api.close();
});
