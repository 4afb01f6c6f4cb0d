import { OpenAPIHono } from '@hono/zod-openapi';
import * as access from '@vmo/shared/access';
import { createPolicy, deletePolicy, listPolicies } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { requireScope } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** /v1/policies: who may read, run and cancel on which agents and hosts (admin only, reading too). */
export function policyRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  // Policies say who may see what: even their list is an admin's (policies:write; there is no read scope).
  app.use('/v1/policies', requireScope('policies:write'));
  app.use('/v1/policies/*', requireScope('policies:write'));

  openapiRoute(app, createPolicy, async (c, input) => {
    const policy = await access.createPolicy(cp, await input.body(), c.get('principal').name);
    c.header('Location', `/v1/policies/${policy.id}`);
    return c.json(policy, 201);
  });
  openapiRoute(app, listPolicies, async (c, input) => c.json(await access.listPolicies(cp, input.query()), 200));
  openapiRoute(app, deletePolicy, async (c, input) => {
    await access.deletePolicy(cp, input.params().id);
    return c.body(null, 204);
  });
  return app;
}
