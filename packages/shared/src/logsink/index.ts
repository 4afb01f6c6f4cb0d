export * from './log-sink.ts';
export * from './insert-output-batch.ts';
