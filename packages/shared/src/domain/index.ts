export * from './labels.ts';
export * from './idempotency-key.ts';
