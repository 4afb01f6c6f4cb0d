import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { forbidden, unauthorized } from '@vmo/shared/errors';
import { bearerToken, tokenKind } from '@vmo/shared/tokens';
import { markAuthenticated } from '../http/unauthenticated-connections.ts';
import type { AuthEnv } from './principal.ts';
import type { TokenStore } from './token-store.ts';

/** Every route but health: `Authorization: Bearer <user token>`. */
export function requireUser(tokens: TokenStore): MiddlewareHandler<AuthEnv> {
  return async function requireUserToken(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('missing or malformed Authorization header; expected "Bearer <token>"');
    if (tokenKind(token) === 'agent') throw forbidden('agent tokens are only accepted on the agent endpoint; use a user token');
    const principal = await tokens.verify(token);
    if (!principal) throw unauthorized('the token is not valid');
    // The connection stops counting against its address's limit of unauthenticated connections.
    markAuthenticated((c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket);
    c.set('principal', principal);
    await next();
  };
}
