export * from './jobs.ts';
export * from './job-output.ts';
export * from './agents.ts';
export * from './api-tokens.ts';
export * from './hosts.ts';
export * from './idempotency-keys.ts';
export * from './runs.ts';
export * from './job-secrets.ts';
