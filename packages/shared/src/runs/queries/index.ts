// Named reads of runs and their children: GET /v1/runs*, answered without a row per child.
export * from './get-run-head.ts';
export * from './get-run-view.ts';
export * from './list-runs.ts';
export * from './list-run-jobs.ts';
export * from './run-summary.ts';
