export * from './preview-targets.ts';
