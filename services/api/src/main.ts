import { parseEnv } from '@vmo/shared/config';
import { onShutdownSignal } from '@vmo/shared/shutdown';
import { apiEnv } from './env.ts';
import { printAdminToken } from './print-admin-token.ts';
import { startApi } from './start-api.ts';

const config = parseEnv(apiEnv);
const api = await startApi(config);
printAdminToken(api.generatedAdminToken, api.url);
onShutdownSignal(() => api.close());
