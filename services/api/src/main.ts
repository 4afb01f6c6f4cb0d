import { logUnhandledRejections } from '@vmo/shared/background';
import { parseEnv } from '@vmo/shared/config';
import { createLogger } from '@vmo/shared/logger';
import { onShutdownSignal } from '@vmo/shared/shutdown';
import { printVersionIfAsked, startOrExit } from '@vmo/shared/startup';
import pkg from '../package.json' with { type: 'json' };
import { apiEnv } from './env.ts';
import { printAdminToken } from './print-admin-token.ts';
import { startApi } from './start-api.ts';

printVersionIfAsked('vmo-api', pkg.version);
const config = parseEnv(apiEnv);
const log = createLogger('api', config.VMO_LOG_LEVEL);
logUnhandledRejections(log);
const api = await startOrExit({ service: 'api', settings: config, log }, () => startApi(config, log)); // one line naming the setting if it cannot
printAdminToken(api.generatedAdminToken, api.url);
onShutdownSignal(() => api.close());
