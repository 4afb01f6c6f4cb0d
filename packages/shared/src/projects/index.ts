// Makefile projects (issue 15 §Projects): a directory with a Makefile on one machine, its targets found by a job and run as jobs.
export * from './make-database/parse-make-database.ts';
export * from './make-database/make-targets.ts';
export * from './make-database/expand-variables.ts';
export * from './make-database/target-descriptions.ts';
export * from './make-database/special-targets.ts';
export * from './shell-words.ts';
export * from './make-run-command.ts';
export * from './project-input.ts';
export * from './discovery/discovery-script.ts';
export * from './discovery/discovery-output.ts';
export * from './discovery/list-command-output.ts';
export * from './registry/parse-registry.ts';
