export * from './provider.ts';
export * from './request-operation.ts';
