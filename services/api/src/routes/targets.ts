import { OpenAPIHono } from '@hono/zod-openapi';
import { previewTargets } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { TARGET_KINDS } from '@vmo/shared/domain';
import { agentsReadableBy, hostsReadableBy } from '@vmo/shared/access';
import * as targets from '@vmo/shared/targets';
import { grantsOf } from '../access/request-grants.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** /v1/targets: what a label selector matches among the agents and hosts the caller may read (issue 11), without running anything. */
export function targetRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  openapiRoute(app, previewTargets, async (c, input) => {
    const q = input.query();
    const grants = await grantsOf(c, cp);
    const sql = cp.database.sql;
    const visibleTo = grants.admin ? undefined : { agents: agentsReadableBy(sql, grants), hosts: hostsReadableBy(sql, grants) };
    return c.json(await targets.previewTargets(cp, { selector: q.selector ?? [], kinds: q.kinds ?? TARGET_KINDS, limit: q.limit, ...(visibleTo ? { visibleTo } : {}) }), 200);
  }, { scope: ['agents:read', 'hosts:read'] });
  return app;
}
