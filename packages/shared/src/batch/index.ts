export * from './group-commit.ts';
