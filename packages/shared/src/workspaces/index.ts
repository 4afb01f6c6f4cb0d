export * from './provider.ts';
export * from './request-operation.ts';
export * from './provider-config.ts';
