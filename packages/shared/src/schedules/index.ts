// Cron schedules (issue 14): the service the API's /v1/schedules and the workers' scheduler loop call.
export * from './schedule-input.ts';
export * from './cron.ts';
export * from './plan-ticks.ts';
export * from './schedule-view.ts';
export * from './schedule-queries.ts';
export * from './schedule-owner.ts';
export * from './as-submission.ts';
export * from './schedule-service.ts';
export * from './fire-key.ts';
export * from './claim-ticks.ts';
export * from './complete-fire.ts';
export * from './scheduler-pass.ts';
export * from './trigger-schedule.ts';
export * from './fire-reason.ts';
export * from './timestamp.ts';
