export * from './output-recorder.ts';
