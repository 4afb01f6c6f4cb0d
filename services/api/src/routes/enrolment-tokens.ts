import { OpenAPIHono } from '@hono/zod-openapi';
import { createEnrolmentToken, getEnrolmentToken, listEnrolmentTokens, revokeEnrolmentToken } from '@vmo/shared/api';
import * as agents from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute, type RouteAccess } from '../http/openapi-route.ts';

/**
 * Admins only (agents:write), listing included: a token's labels and limits say which machines may
 * join which fleet as what. The exchange itself is routes/agent-enrol.ts.
 */
const ADMIN: RouteAccess = { scope: 'agents:write' };

/** /v1/enrolment-tokens: create (the token is answered once), list, read, revoke. */
export function enrolmentTokenRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, createEnrolmentToken, async (c, input) => {
    const created = await agents.createEnrolmentToken(cp, await input.body(), c.get('principal').name);
    c.header('Location', `/v1/enrolment-tokens/${created.id}`);
    return c.json(created, 201);
  }, ADMIN);
  openapiRoute(app, listEnrolmentTokens, async (c, input) => c.json(await agents.listEnrolmentTokens(cp, input.query()), 200), ADMIN);
  openapiRoute(app, getEnrolmentToken, async (c, input) => c.json(await agents.getEnrolmentToken(cp, input.params().id), 200), ADMIN);
  openapiRoute(app, revokeEnrolmentToken, async (c, input) => {
    await agents.revokeEnrolmentToken(cp, input.params().id);
    return c.body(null, 204);
  }, ADMIN);

  return app;
}
