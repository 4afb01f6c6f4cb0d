export * from './agent-input.ts';
export * from './agent-service.ts';
