import { logUnhandledRejections } from '@vmo/shared/background';
import { parseEnv } from '@vmo/shared/config';
import { createLogger } from '@vmo/shared/logger';
import { workerEnv } from './env.ts';
import { startWorker } from './start-worker.ts';
import { onShutdownSignal } from '@vmo/shared/shutdown';
import { printVersionIfAsked, startOrExit } from '@vmo/shared/startup';
import pkg from '../package.json' with { type: 'json' };

printVersionIfAsked('vmo-worker', pkg.version);
const config = parseEnv(workerEnv);
const log = createLogger('worker', config.VMO_LOG_LEVEL);
logUnhandledRejections(log);
const worker = await startOrExit({ service: 'worker', settings: config, log }, () => startWorker(config, log)); // one line naming the setting if it cannot
onShutdownSignal(() => worker.close());
