export * from './parse-env.ts';
export * from './common.ts';
export * from './redis-mode.ts';
export * from './secret-var.ts';
export * from './secret-files.ts';
export * from './strong-secret.ts';
export * from './run-as-var.ts';
export * from './timing-relations.ts';
