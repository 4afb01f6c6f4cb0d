export * from './run-input.ts';
