// Saved commands (issue 15): named scripts with typed parameters, versioned; run as a job or a fleet run.
export * from './command-input.ts';
export * from './command-view.ts';
export * from './command-service.ts';
export * from './param-pattern.ts';
export * from './param-values.ts';
export * from './run-command.ts';
export * from './machine-commands.ts';
export * from './default-target-visibility.ts';
