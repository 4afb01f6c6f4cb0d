import { parseEnv } from '@vmo/shared/config';
import { workerEnv } from './env.ts';
import { startWorker } from './start-worker.ts';
import { onShutdownSignal } from '@vmo/shared/shutdown';

const config = parseEnv(workerEnv);
const worker = await startWorker(config);
onShutdownSignal(() => worker.close());
