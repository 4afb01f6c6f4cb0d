// Authorization by policy (issue 11): who may read, run and cancel where, as SQL over agents and hosts.
export * from './grants.ts';
export * from './row-filter.ts';
export * from './target-sql.ts';
export * from './job-access.ts';
export * from './run-access.ts';
export * from './inventory-access.ts';
export * from './resource-access.ts';
export * from './may-run.ts';
export * from './target-forbidden.ts';
export * from './policy-input.ts';
export * from './policy-service.ts';
