export * from './client.ts';
export * from './migrate.ts';
export * as schema from './schema/index.ts';
export { jobs, jobOutput, agents, apiTokens, hosts } from './schema/index.ts';
export * from './pg-error-code.ts';
