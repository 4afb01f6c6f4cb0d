export * from './job-queue.ts';
export * from './enqueue-grouped.ts';
