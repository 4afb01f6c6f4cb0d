export * from './job-env.ts';
export * from './spawn-job-process.ts';
export * from './kill-orphaned-job.ts';
export * from './marked-processes.ts';
export * from './run-as.ts';
export * from './shell-quote.ts';
