import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../auth/principal.ts';

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** What a client or proxy may send as its request id: short and printable, so it can go into logs and audit rows as is. */
const VALID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Every request gets an id, `c.get('requestId')`: the caller's `X-Request-Id` when it is a valid
 * one (a proxy's id then ties its log to ours), else a new UUID. Echoed on every answer, errors
 * included (the header is set before the handler runs, so onError's response carries it too).
 */
export function requestId(): MiddlewareHandler<AuthEnv> {
  return async function requestIdHandler(c, next) {
    const id = requestIdOf(c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', id);
    c.header(REQUEST_ID_HEADER, id);
    await next();
    // A response built by hand (not through c.json) may not have it; its headers may be immutable.
    try {
      if (!c.res.headers.has(REQUEST_ID_HEADER)) c.res.headers.set(REQUEST_ID_HEADER, id);
    } catch {
      /* immutable headers: the id is still in c.get('requestId') for logs and audit */
    }
  };
}

/** The caller's id when valid, else a new one: for REST requests and stream upgrades alike. */
export const requestIdOf = (header: string | undefined): string => (header !== undefined && VALID.test(header) ? header : randomUUID());
