// What the services' pino logger and the agent's own writer share: the schema of a log line and
// the readable format. No pino here: the agent bundles this.
export * from './log-line.ts';
export * from './pretty.ts';
