export * from './job-input.ts';
export * from './job-view.ts';
export * from './submit-job.ts';
export * from './mark-job-running.ts';
export * from './mark-job-terminal.ts';
export * from './stop-job.ts';
export * from './list-jobs.ts';
export * from './read-output.ts';
export * from './row-to-job.ts';
export * from './idempotency.ts';
export * from './end-lost-agent-job.ts';
export * from './record-exit.ts';
// TODO(layers): remove once services/worker/src/start-worker.ts imports openControlPlane from
// '@vmo/shared/control-plane' (that file is being edited by another change right now).
export { openControlPlane } from '../control-plane/open-control-plane.ts';
