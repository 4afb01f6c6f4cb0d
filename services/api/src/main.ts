import { logUnhandledRejections } from '@vmo/shared/background';
import { parseEnv } from '@vmo/shared/config';
import { createLogger } from '@vmo/shared/logger';
import { onShutdownSignal } from '@vmo/shared/shutdown';
import { apiEnv } from './env.ts';
import { printAdminToken } from './print-admin-token.ts';
import { startApi } from './start-api.ts';

const config = parseEnv(apiEnv);
const log = createLogger('api', config.VMO_LOG_LEVEL);
logUnhandledRejections(log);
const api = await startApi(config, log);
printAdminToken(api.generatedAdminToken, api.url);
onShutdownSignal(() => api.close());
