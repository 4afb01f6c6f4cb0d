import { logUnhandledRejections } from '@vmo/shared/background';
import { parseEnv } from '@vmo/shared/config';
import { createLogger } from '@vmo/shared/logger';
import { workerEnv } from './env.ts';
import { startWorker } from './start-worker.ts';
import { onShutdownSignal } from '@vmo/shared/shutdown';

const config = parseEnv(workerEnv);
const log = createLogger('worker', config.VMO_LOG_LEVEL);
logUnhandledRejections(log);
const worker = await startWorker(config, log);
onShutdownSignal(() => worker.close());
