import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { unauthorized } from '@vmo/shared/errors';
import { bearerToken } from '@vmo/shared/tokens';
import { markAuthenticated } from '../http/unauthenticated-connections.ts';
import { authenticate } from './authenticate.ts';
import type { AuthEnv } from './principal.ts';
import type { TokenStore } from './token-store.ts';

/** Every route but health and the API document: `Authorization: Bearer <user token>`. */
export function requireUser(tokens: TokenStore): MiddlewareHandler<AuthEnv> {
  return async function requireUserToken(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('missing or malformed Authorization header; expected "Bearer <token>"');
    const principal = await authenticate(tokens, token);
    // The connection stops counting against its address's limit of unauthenticated connections.
    markAuthenticated((c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket);
    c.set('principal', principal);
    await next();
  };
}
