// A job's secretEnv: sealed at rest (secrets/secret-box.ts), read by whoever runs the job, dropped at its end.
export * from './seal-secret-env.ts';
export * from './job-secrets-store.ts';
export * from './drop-secrets-at-end.ts';
