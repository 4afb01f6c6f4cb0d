// The bottom layer: plain types and rules, importing nothing of ours (test: layering.test.ts).
export * from './job-status.ts';
export * from './job-target.ts';
export * from './output-stream.ts';
export * from './labels.ts';
export * from './idempotency-key.ts';
export * from './ids.ts';
export * from './storable-text.ts';
export * from './timings.ts';
export * from './label-selector.ts';
export * from './target-kind.ts';
export * from './run-status.ts';
export * from './access.ts';
export * from './schedule.ts';
export * from './run-at-and-priority.ts';
export * from './retry-policy.ts';
export * from './retention.ts';
export * from './make-target.ts';
