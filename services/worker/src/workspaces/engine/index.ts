export * from './workspace-engine.ts';
export * from './operation-store.ts';
export * from './operation-run.ts';
export * from './run-operation.ts';
export * from './snapshot-sweep.ts';
