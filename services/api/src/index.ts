export { startApi, type ApiHandle } from './start-api.ts';
export { apiEnv, type ApiConfig } from './env.ts';
export { createApp } from './app.ts';
export { printAdminToken } from './print-admin-token.ts';
