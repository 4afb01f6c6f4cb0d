// The job lifecycle: the only code that writes `jobs.status` (see transition.ts).
export * from './transitions.ts';
export * from './job-change.ts';
export * from './observers.ts';
export * from './transition.ts';
export * from './transition-run-children.ts';
export * from './mark-changes.ts';
export * from './retry.ts';
