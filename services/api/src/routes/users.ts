import { OpenAPIHono } from '@hono/zod-openapi';
import { createUser, getMe, getUser, listUsers, updateUser } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import * as users from '@vmo/shared/users';
import { effectiveScopes, requireAdmin } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** /v1/users (admins: create, list, read, change; `{id}` also takes a name) and /v1/me (anyone). */
export function userRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(
    app,
    createUser,
    async (c, input) => {
      const user = await users.createUser(cp, await input.body());
      c.header('Location', `/v1/users/${user.id}`);
      return c.json(user, 201);
    },
    { scope: 'users:write' },
  );
  openapiRoute(
    app,
    listUsers,
    async (c, input) => {
      requireAdmin(c.get('principal'), 'users:read', 'listing users');
      return c.json(await users.listUsers(cp, input.query()), 200);
    },
    { scope: 'users:read' },
  );
  openapiRoute(
    app,
    getUser,
    async (c, input) => {
      requireAdmin(c.get('principal'), 'users:read', 'reading a user');
      return c.json(await users.getUser(cp, input.params().id), 200);
    },
    { scope: 'users:read' },
  );
  openapiRoute(app, updateUser, async (c, input) => c.json(await users.updateUser(cp, input.params().id, await input.body()), 200), { scope: 'users:write' });

  // Anyone authenticated, whatever their scopes: knowing who you are is never a privilege.
  openapiRoute(app, getMe, async (c) => {
    const p = c.get('principal');
    const [user, token] = await Promise.all([p.userId === null ? undefined : users.findUser(cp, p.userId), p.tokenId === null ? undefined : users.findApiToken(cp, p.tokenId)]);
    return c.json(
      {
        kind: p.kind,
        id: p.userId,
        name: p.name,
        email: user?.email ?? null,
        role: p.role,
        scopes: effectiveScopes(p),
        token: p.tokenId === null ? null : { id: p.tokenId, name: token?.name ?? '', scopes: p.scopes === null ? null : [...p.scopes], expiresAt: token?.expiresAt?.toISOString() ?? null },
      },
      200,
    );
  });

  return app;
}
