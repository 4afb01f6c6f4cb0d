// Retention (issue 14): what is deleted when, in bounded batches. The loop is the worker's (services/worker/src/retention-loop.ts).
export { runRetentionPass, RETENTION_BATCHES, type RetentionBatches, type RetentionCounts, type RetentionPassOptions } from './retention-pass.ts';
export { ENDED_JOB_STATUSES, ENDED_RUN_STATUSES } from './ended.ts';
