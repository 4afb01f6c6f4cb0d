// The run stream's read side (GET /v1/runs/{id}/stream): cursor, windows, pages. The WebSocket
// handler is services/api/src/streams/run-stream.ts.
export * from './pg-snapshot.ts';
export * from './cursor.ts';
export * from './chunk-position.ts';
export * from './run-stream-events.ts';
export * from './read-run-stream.ts';
export { readRunTotal as runStreamRunTotal } from './sql/read-run-progress.ts';
export { outputKeysStatement, type OutputKeysQuery } from './sql/read-output-keys.ts';
export { beginRunStreamRead } from './sql/begin-read.ts';
export { runQuietStatement, type RunQuietQuery } from './sql/read-run-quiet.ts';
