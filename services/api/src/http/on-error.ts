import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';

/**
 * The one place errors become responses. Expected errors (4xx) log at warn; anything else is a
 * bug or an outage: logged with its stack, answered 503 when Postgres or Redis is unreachable,
 * else 500 without internals.
 */
export function createErrorHandler(log: Logger) {
  return function onError(err: Error, c: Context) {
    if (clientWentAway(err)) {
      // The client closed the connection mid-body: nobody gets the answer and nothing is wrong
      // here. One debug line, not an error with a stack for every dropped upload.
      log.debug({ path: c.req.path, method: c.req.method }, 'client closed the connection before the request body was read');
      return c.body(null, 400);
    }
    const appError = toAppError(err);
    // LOUD: only the code, path and our own message: never the body, a header or a value from it.
    if (appError.expected) log.warn({ code: appError.code, path: c.req.path }, appError.message);
    // A store outage is an operational event, not a bug: one warn line per request, no stack
    // (a chaos run logged ~100 error stacks that said nothing new).
    else if (appError.status === 503) log.warn({ code: appError.code, cause: connectionErrorCode(err), path: c.req.path, method: c.req.method }, 'request refused: a store is unavailable');
    else log.error({ err, path: c.req.path, method: c.req.method }, 'request failed');
    // An error that knows when to come back (BatchOverdue's 503, a rate limit's 429) says it in the header too.
    const retryAfter = appError.details?.retryAfterSeconds;
    return c.json(errorBody(appError), appError.status, typeof retryAfter === 'number' ? { 'Retry-After': String(retryAfter) } : {});
  };
}

/** node's http server fails an unread request body with `aborted` (ECONNRESET) when the client disconnects. */
function clientWentAway(err: Error): boolean {
  return err.message === 'aborted' && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
}

function toAppError(err: Error): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new AppError(413, 'payload_too_large', err.message || 'payload too large');
    if (err.status >= 500) return new AppError(500, 'internal', 'internal error; see the server log');
    return new AppError(400, 'bad_request', err.message || 'bad request');
  }
  if (isConnectionError(err)) return new AppError(503, 'unavailable', 'a backing service (Postgres or Redis) is unavailable; retry shortly');
  return new AppError(500, 'internal', 'internal error; see the server log');
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE', '57P01', '57P03', '53300']);
/** Looks through `cause` too: drizzle wraps the driver's error in a DrizzleQueryError. */
export function isConnectionError(err: unknown): boolean {
  return connectionErrorCode(err) !== undefined;
}

/** The code of the connection failure in `err` or its causes (a code, never a message: no data in logs). */
export function connectionErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: string }).code;
    if (code !== undefined && CONNECTION_CODES.has(code)) return code;
    if (/Connection is closed|connect ECONNREFUSED/.test(String((e as Error).message))) return code ?? 'CONNECTION_CLOSED';
  }
  return undefined;
}
