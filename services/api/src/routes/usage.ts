import { OpenAPIHono } from '@hono/zod-openapi';
import { getUsage, getUsageOverview } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { forbidden } from '@vmo/shared/errors';
import { usageOverview, usageReport } from '@vmo/shared/workspaces';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { workspaceActor } from './workspaces.ts';

/**
 * /v1/usage (issue 18): running time, job time, output and cost of workspaces, computed from their
 * operation history (@vmo/shared/workspaces usage.ts). Read-only: `workspaces:read`. A non-admin sees
 * their own workspaces only; the overview is for admins.
 */
export function usageRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, getUsage, async (c, input) => {
    const q = input.query();
    return c.json(await usageReport(cp, q, workspaceActor(c)), 200);
  }, { scope: 'workspaces:read' });

  openapiRoute(app, getUsageOverview, async (c) => {
    if (!workspaceActor(c).admin) throw forbidden('the usage overview is for admins; GET /v1/usage shows your own');
    return c.json(await usageOverview(cp), 200);
  }, { scope: 'workspaces:read' });

  return app;
}
