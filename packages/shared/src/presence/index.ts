// Agent presence: the reader with its rule for `unknown` (agent-presence.ts) and the writer.
export * from './agent-presence.ts';
export * from './presence-writer.ts';
