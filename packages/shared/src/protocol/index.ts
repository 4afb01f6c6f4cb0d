export * from './agent-messages.ts';
export * from './binary-output.ts';
export * from './subscriber-messages.ts';
export * from './shell-messages.ts';
export * from './shell-output-frame.ts';
export * from './heartbeat-fast-path.ts';
