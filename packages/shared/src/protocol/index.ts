// The constants first, from files without zod (the bundled agent takes them from here without the schemas).
export * from './constants.ts';
export * from './shell-constants.ts';
export * from './agent-messages.ts';
export * from './binary-output.ts';
export * from './subscriber-messages.ts';
export * from './shell-messages.ts';
export * from './shell-output-frame.ts';
export * from './heartbeat-fast-path.ts';
export * from './check-server-frame.ts';
