export * from './agent-input.ts';
export * from './agent-service.ts';
export * from './is-agent-revoked.ts';
export * from './max-concurrent-jobs.ts';
