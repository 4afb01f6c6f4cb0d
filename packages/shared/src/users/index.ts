export * from './user-input.ts';
export * from './user-service.ts';
export * from './api-tokens.ts';
