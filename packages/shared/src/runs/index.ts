export * from './run-input.ts';
export * from './run-view.ts';
export * from './queries/index.ts';
