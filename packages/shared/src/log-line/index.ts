// What the services' pino logger and the agent's own writer share: the schema of a log line,
// the keys never logged (censor.ts) and the readable format. No pino here: the agent bundles this.
export * from './log-line.ts';
export * from './censor.ts';
export * from './pretty.ts';
