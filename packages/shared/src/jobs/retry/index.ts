// Jobs that wait for their next attempt (issue 14): held in Postgres, released by the workers when it comes.
export * from './release-due-retries.ts';
