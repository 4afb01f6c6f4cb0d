export * from './agent-messages.ts';
export * from './binary-output.ts';
export * from './subscriber-messages.ts';
