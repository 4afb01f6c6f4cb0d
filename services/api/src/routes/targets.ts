import { OpenAPIHono } from '@hono/zod-openapi';
import { previewTargets } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { TARGET_KINDS } from '@vmo/shared/domain';
import * as targets from '@vmo/shared/targets';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** /v1/targets: what a label selector matches among agents and hosts, without running anything. */
export function targetRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  openapiRoute(app, previewTargets, async (c, input) => {
    const q = input.query();
    return c.json(await targets.previewTargets(cp, { selector: q.selector ?? [], kinds: q.kinds ?? TARGET_KINDS, limit: q.limit }), 200);
  }, { scope: ['agents:read', 'hosts:read'] });
  return app;
}
