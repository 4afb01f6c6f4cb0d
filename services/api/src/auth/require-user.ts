import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerToken } from '@vmo/shared/tokens';
import { markAuthenticated } from '../http/unauthenticated-connections.ts';
import { authenticate } from './authenticate.ts';
import type { AuthEnv } from './principal.ts';
import type { AuthRequest } from './proxy-identity.ts';
import type { TokenStore } from './token-store.ts';

const incomingOf = (c: Context) => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;

/** A REST request as authenticate() sees it: the bearer token, the socket's peer, the headers (every value of each). */
export function restAuthRequest(c: Context): AuthRequest {
  const incoming = incomingOf(c);
  return {
    token: bearerToken(c.req.header('authorization')),
    peer: incoming?.socket.remoteAddress,
    header(name) {
      if (incoming) return incoming.headersDistinct[name.toLowerCase()] ?? [];
      const value = c.req.header(name); // in-process (tests): no socket, and no proxy can apply
      return value === undefined ? [] : [value];
    },
  };
}

/**
 * Every route but health and the API document: `Authorization: Bearer <token>`, or the user the
 * trusted auth proxy names (VMO_TRUSTED_PROXIES). Sets `c.get('principal')`.
 */
export function requireUser(tokens: TokenStore): MiddlewareHandler<AuthEnv> {
  return async function requireUserToken(c, next) {
    const principal = await authenticate(tokens, restAuthRequest(c), 'missing or malformed Authorization header; expected "Bearer <token>"');
    // The connection stops counting against its address's limit of unauthenticated connections.
    markAuthenticated(incomingOf(c)?.socket);
    c.set('principal', principal);
    await next();
  };
}
