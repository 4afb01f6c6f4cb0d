export * from './registry.ts';
export * from './labels.ts';
export * from './scrape-sources.ts';
export * from './vmo-metrics.ts';
export * from './job-metrics.ts';
export * from './store-errors.ts';
export * from './metrics-env.ts';
export * from './metrics-auth.ts';
