export * from './group-commit.ts';
export * from './batch-overdue.ts';
