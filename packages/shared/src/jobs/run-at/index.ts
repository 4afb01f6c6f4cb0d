// Jobs that wait for their `runAt` (issue 14): held in Postgres, released by the workers when it comes.
export * from './release-due-jobs.ts';
