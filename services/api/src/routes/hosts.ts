import { OpenAPIHono } from '@hono/zod-openapi';
import { createHost, deleteHost, getHost, importHosts, listHosts, updateHost } from '@vmo/shared/api';
import { hostsReadableWhere, mayReadMachine } from '@vmo/shared/access';
import { deniedByPolicy } from '@vmo/shared/audit';
import { notFound } from '@vmo/shared/errors';
import * as hosts from '@vmo/shared/hosts';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { grantsOf } from '../access/request-grants.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * /v1/hosts: the inventory of agentless hosts. `{id}` also accepts a name or name@environment.
 * Reading is per policy (issue 11: the hosts a policy lets the caller read, any other is 404 as if
 * there were none); writing is admins' only (the hosts:write scope).
 */
export function hostRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, createHost, async (c, input) => {
    const host = await hosts.createHost(cp, await input.body());
    c.header('Location', `/v1/hosts/${host.id}`);
    return c.json(host, 201);
  }, { scope: 'hosts:write' });
  openapiRoute(app, listHosts, async (c, input) => {
    const visibleTo = hostsReadableWhere(await grantsOf(c, cp));
    return c.json(await hosts.listHosts(cp, { ...input.query(), ...(visibleTo ? { visibleTo } : {}) }), 200);
  }, { scope: 'hosts:read' });
  openapiRoute(app, importHosts, async (c, input) => {
    const body = await input.body();
    const result = body.format === 'ansible' || body.format === 'vm-config' ? await hosts.importInventory(cp, body) : await hosts.importSshConfig(cp, body);
    return c.json(result, 200);
  }, { scope: 'hosts:write' });
  openapiRoute(app, getHost, async (c, input) => {
    const { id } = input.params();
    const host = await hosts.getHost(cp, id);
    if (!mayReadMachine(await grantsOf(c, cp), host.labels)) throw deniedByPolicy(notFound('host', id));
    return c.json(host, 200);
  }, { scope: 'hosts:read' });
  openapiRoute(app, updateHost, async (c, input) => {
    const { id } = input.params();
    return c.json(await hosts.updateHost(cp, id, await input.body()), 200);
  }, { scope: 'hosts:write' });
  openapiRoute(app, deleteHost, async (c, input) => {
    await hosts.deleteHost(cp, input.params().id);
    return c.body(null, 204);
  }, { scope: 'hosts:write' });

  return app;
}
