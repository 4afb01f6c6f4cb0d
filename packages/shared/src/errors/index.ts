export * from './error-codes.ts';
export * from './app-error.ts';
export * from './error-body.ts';
export * from './zod-error.ts';
export * from './storable-text.ts';
