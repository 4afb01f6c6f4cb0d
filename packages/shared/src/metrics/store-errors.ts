import type { StoreErrorKind } from './labels.ts';
import { postgresErrors, redisErrors } from './vmo-metrics.ts';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P02', '57P03', '53300']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'CONNECT_TIMEOUT', '57014']);
const POSTGRES_CONNECTION_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** `err` and its causes (drizzle wraps the driver's error), at most a few deep. */
function* chain(err: unknown): Generator<{ name?: string; code?: unknown; message?: string }> {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) yield e as never;
}

/** What kind of store error this is: a bounded label (codes and names only, never a message's data). */
export function storeErrorKind(err: unknown): StoreErrorKind {
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && TIMEOUT_CODES.has(code)) return 'timeout';
    if (code && CONNECTION_CODES.has(code)) return 'connection';
    if (/Connection is closed|Stream isn't writeable|connect ECONNREFUSED/.test(String(e.message))) return 'connection';
    if (/timed? ?out|did not settle within/i.test(String(e.message))) return 'timeout';
    if (e.name === 'PostgresError' || e.name === 'ReplyError') return 'query';
  }
  return 'other';
}

/**
 * Which store an error came from, when it says so: postgres.js errors (`PostgresError`, its own
 * connection codes, a SQLSTATE), ioredis's (`ReplyError`, its closed-connection messages).
 * `undefined` for anything else (a bare ECONNREFUSED names no store and is not counted).
 */
export function storeOf(err: unknown): 'postgres' | 'redis' | undefined {
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (e.name === 'PostgresError' || e.name === 'DrizzleQueryError' || (code && (POSTGRES_CONNECTION_CODES.has(code) || /^[0-9A-Z]{5}$/.test(code)))) return 'postgres';
    if (e.name === 'ReplyError' || e.name === 'MaxRetriesPerRequestError' || /Connection is closed|Stream isn't writeable/.test(String(e.message))) return 'redis';
  }
  return undefined;
}

export function countPostgresError(err: unknown): void {
  postgresErrors.inc({ kind: storeErrorKind(err) });
}

export function countRedisError(err: unknown): void {
  redisErrors.inc({ kind: storeErrorKind(err) });
}

/**
 * Count an error of a failed request or task by the store it came from; errors of no store are
 * not counted, unless the caller knows which store its work talks to (`otherwise`: a bare
 * ECONNREFUSED of a write that only Postgres answers is Postgres's).
 */
export function countStoreError(err: unknown, otherwise?: 'postgres' | 'redis'): void {
  const store = storeOf(err) ?? otherwise;
  if (store === 'postgres') countPostgresError(err);
  else if (store === 'redis') countRedisError(err);
}

/** Count every `error` event of a Redis connection (ioredis emits one per failed connect or lost connection). */
export function countRedisErrors(redis: { on(event: 'error', listener: (err: Error) => void): unknown; off(event: 'error', listener: (err: Error) => void): unknown }): () => void {
  const listener = (err: Error) => countRedisError(err);
  redis.on('error', listener);
  return () => void redis.off('error', listener);
}
