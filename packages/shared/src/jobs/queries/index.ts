// Named reads of the jobs table: services read jobs through these, never with SQL of their own.
export * from './get-job.ts';
export * from './list-jobs.ts';
export * from './agent-jobs.ts';
export * from './sweeps.ts';
export * from './job-attempts.ts';
