export * from './provider.ts';
export * from './request-operation.ts';
export * from './provider-config.ts';
export * from './usage.ts';
export * from './usage-intervals.ts';
