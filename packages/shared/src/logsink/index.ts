export * from './log-sink.ts';
export * from './insert-output-batch.ts';
export * from './store-output-batch.ts';
