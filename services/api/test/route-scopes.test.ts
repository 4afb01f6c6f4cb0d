/**
 * Issue 11 §Identity: scopes narrow a token on every route. Each /v1 route of the API (whoever
 * wrote it, whatever mechanism applies its scope) refuses, with 403 naming a scope, an admin's
 * token whose scopes do not cover it; only the routes about the caller's own identity and tokens
 * need no scope. And the document says which scopes each route needs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST_ROUTES, type ApiRoute } from '@vmo/shared/api';
import { TOKEN_SCOPES } from '@vmo/shared/domain';
import { createApiToken, createUser, findUser } from '@vmo/shared/users';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

/** Routes any authenticated caller may use whatever their token's scopes; and an agent's enrolment and whoami, which take an enrolment or agent token, no user's. */
const NO_SCOPE = new Set(['getMe', 'createToken', 'listTokens', 'revokeToken', 'enrolAgent', 'agentWhoami']);

describe('route scopes (in-process)', () => {
  let fixture: InProcessApp;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    fixture = await startInProcessApp('route_scopes');
    await createUser(fixture.cp, { name: 'root', role: 'admin', email: null });
    const user = (await findUser(fixture.cp, 'root'))!;
    for (const scope of ['jobs:read', 'agents:read'] as const) {
      tokens[scope] = (await createApiToken(fixture.cp, { user, name: scope, scopes: [scope], createdBy: 'test' })).token;
    }
  });
  afterAll(() => fixture?.close());

  const call = (route: ApiRoute, token: string) =>
    fixture.app.request(route.path.replaceAll(/\{[^}]+\}/g, 'x'), {
      method: route.method.toUpperCase(),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(route.method === 'get' || route.method === 'delete' ? {} : { body: '{}' }),
    });

  it('every /v1 route but the caller-own ones refuses an admin token whose scopes do not cover it, with 403 naming the scope', async () => {
    const unguarded: string[] = [];
    for (const route of REST_ROUTES as readonly ApiRoute[]) {
      // `security: []`: the routes that take no user token at all (the document, health, an agent's enrolment).
      if (NO_SCOPE.has(route.operationId) || route.security?.length === 0 || !route.path.startsWith('/v1/')) continue;
      // Each route needs something other than jobs:read, or other than agents:read: one of these two tokens lacks it.
      const answers = await Promise.all(Object.values(tokens).map((t) => call(route, t)));
      const refused = answers.filter((r) => r.status === 403);
      if (refused.length === 0) unguarded.push(`${route.method.toUpperCase()} ${route.path} (${answers.map((a) => a.status).join(', ')})`);
      for (const res of refused) {
        const body = (await res.json()) as { error: { code: string; details?: { scope?: string } } };
        expect(body.error.code, route.operationId).toBe('forbidden');
        expect(TOKEN_SCOPES, route.operationId).toContain(body.error.details?.scope);
      }
    }
    expect(unguarded).toEqual([]);
  });

  it('the caller-own routes need no scope', async () => {
    for (const token of Object.values(tokens)) {
      const me = await fixture.app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { scopes: string[] }).scopes).toHaveLength(1);
      expect((await fixture.app.request('/v1/tokens', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
  });

  it('the document lists the scopes each route needs', async () => {
    const doc = (await (await fixture.app.request('/v1/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>> };
    expect(doc.paths['/v1/jobs']!.post!.security).toEqual([{ userToken: ['jobs:run'] }]);
    expect(doc.paths['/v1/jobs/{id}/cancel']!.post!.security).toEqual([{ userToken: ['jobs:cancel'] }]);
    expect(doc.paths['/v1/agents']!.get!.security).toEqual([{ userToken: ['agents:read'] }]);
    expect(doc.paths['/v1/hosts/import']!.post!.security).toEqual([{ userToken: ['hosts:write'] }]);
    expect(doc.paths['/v1/users']!.post!.security).toEqual([{ userToken: ['users:write'] }]);
    expect(doc.paths['/v1/me']!.get!.security).toBeUndefined(); // the document's default: any token
  });
});
