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
    const appError = toAppError(err);
    if (appError.expected) log.warn({ code: appError.code, path: c.req.path }, appError.message);
    else log.error({ err, path: c.req.path, method: c.req.method }, 'request failed');
    return c.json(errorBody(appError), appError.status);
  };
}

function toAppError(err: Error): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    const status = err.status === 413 ? 413 : err.status >= 500 ? 500 : 400;
    return new AppError(status as 400, status === 413 ? 'payload_too_large' : 'bad_request', err.message || 'bad request');
  }
  if (isConnectionError(err)) return new AppError(503, 'unavailable', 'a backing service (Postgres or Redis) is unavailable; retry shortly');
  return new AppError(500, 'internal', 'internal error; see the server log');
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE', '57P01', '57P03', '53300']);
/** Looks through `cause` too: drizzle wraps the driver's error in a DrizzleQueryError. */
function isConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: string }).code;
    if ((code !== undefined && CONNECTION_CODES.has(code)) || /Connection is closed|connect ECONNREFUSED/.test(String((e as Error).message))) return true;
  }
  return false;
}
