import { OpenAPIHono } from '@hono/zod-openapi';
import { createEnrolmentToken, getEnrolmentToken, listEnrolmentTokens, revokeEnrolmentToken } from '@vmo/shared/api';
import * as agents from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { requireScope } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * /v1/enrolment-tokens (admin: `agents:write`, listing included, since a token's labels and
 * limits say which machines may join which fleet): create (the token is answered once), list,
 * read, revoke. The exchange itself is routes/agent-enrol.ts.
 */
export function enrolmentTokenRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  app.use('/v1/enrolment-tokens', requireScope('agents:write'));
  app.use('/v1/enrolment-tokens/*', requireScope('agents:write'));

  openapiRoute(app, createEnrolmentToken, async (c, input) => {
    const created = await agents.createEnrolmentToken(cp, await input.body(), c.get('principal').name);
    c.header('Location', `/v1/enrolment-tokens/${created.id}`);
    return c.json(created, 201);
  });
  openapiRoute(app, listEnrolmentTokens, async (c, input) => c.json(await agents.listEnrolmentTokens(cp, input.query()), 200));
  openapiRoute(app, getEnrolmentToken, async (c, input) => c.json(await agents.getEnrolmentToken(cp, input.params().id), 200));
  openapiRoute(app, revokeEnrolmentToken, async (c, input) => {
    await agents.revokeEnrolmentToken(cp, input.params().id);
    return c.body(null, 204);
  });

  return app;
}
