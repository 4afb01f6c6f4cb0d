// The message bus over Redis pub/sub: BUS.md is the spec.
export * from './families.ts';
export * from './publish.ts';
export * from './bus-subscriber.ts';
export * from './messages/job-events.ts';
export * from './messages/job-output.ts';
export * from './messages/agent-commands.ts';
export * from './messages/control.ts';
export * from './messages/changes.ts';
export * from './topic-coalescer.ts';
export * from './change-notifier.ts';
export * from './messages/shell.ts';
export * from './messages/operation-log.ts';
