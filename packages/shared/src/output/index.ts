export * from './output-recorder.ts';
export * from './secret-masker.ts';
