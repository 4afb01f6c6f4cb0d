import { OpenAPIHono } from '@hono/zod-openapi';
import { createToken, listTokens, revokeToken } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { AppError, badRequest, notFound } from '@vmo/shared/errors';
import * as users from '@vmo/shared/users';
import { allows, requireAdmin } from '../auth/permissions.ts';
import type { AuthEnv, Principal } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

const unknownUser = (ref: string) => new AppError(422, 'unknown_user', `user: no user with id or name ${JSON.stringify(ref)}; see GET /v1/users`, { field: 'user' });

/** Does `ref` (an id or a name) name the caller? Answered without a lookup, so a non-admin cannot probe other names. */
const namesSelf = (p: Principal, ref: string) => p.userId !== null && (ref === p.userId || ref === p.name);

/**
 * /v1/tokens: anyone makes, lists and revokes their own API tokens (a proxy user gets one for the
 * CLI this way); admins anyone's. No scope is needed for one's own: a token can only ever make
 * tokens that do no more than itself, expire no later, and are revoked with it (it is recorded as
 * their parent; users/api-tokens.ts).
 */
export function tokenRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, createToken, async (c, input) => {
    const p = c.get('principal');
    const body = await input.body();
    let user: users.UserRow | undefined;
    let limits: users.TokenLimits | undefined;
    if (body.user !== undefined && !namesSelf(p, body.user)) {
      requireAdmin(p, 'users:write', 'creating a token for another user');
      user = await users.findUser(cp, body.user);
      if (!user) throw unknownUser(body.user);
    } else {
      if (p.userId === null) {
        throw badRequest('validation_failed', 'user: the bootstrap admin token belongs to no user; name the user (id or name) the token is for', { field: 'user' });
      }
      user = await users.findUser(cp, p.userId);
      if (!user) throw unknownUser(p.userId);
      const own = p.tokenId === null ? undefined : await users.findApiToken(cp, p.tokenId);
      limits = { scopes: p.scopes, expiresAt: own?.expiresAt ?? null, parentTokenId: p.tokenId };
    }
    const { user: _, ...rest } = body;
    return c.json(await users.createApiToken(cp, { ...rest, user, createdBy: p.name, limits }), 201);
  });

  openapiRoute(app, listTokens, async (c, input) => {
    const p = c.get('principal');
    const q = input.query();
    const page = { limit: q.limit, cursor: q.cursor };
    if (q.user !== undefined && !namesSelf(p, q.user)) {
      requireAdmin(p, 'users:read', "listing another user's tokens");
      const user = await users.findUser(cp, q.user);
      if (!user) throw unknownUser(q.user);
      return c.json(await users.listApiTokens(cp, { ...page, userId: user.id }), 200);
    }
    // An admin's list without ?user= is everyone's; anyone else's is their own (a proxy user's too).
    if (q.user === undefined && p.role === 'admin' && allows(p, 'users:read')) return c.json(await users.listApiTokens(cp, page), 200);
    if (p.userId === null) return c.json(await users.listApiTokens(cp, page), 200); // the bootstrap admin (allows everything)
    return c.json(await users.listApiTokens(cp, { ...page, userId: p.userId }), 200);
  });

  openapiRoute(app, revokeToken, async (c, input) => {
    const p = c.get('principal');
    const { id } = input.params();
    const token = await users.findApiToken(cp, id);
    const own = token !== undefined && token.userId !== null && token.userId === p.userId;
    // Someone else's token is the same 404 as none to a non-admin: no oracle for token ids.
    if (!token || (!own && !(p.role === 'admin' && allows(p, 'users:write')))) throw notFound('token', id);
    await users.revokeApiToken(cp, id);
    return c.body(null, 204);
  });

  return app;
}
