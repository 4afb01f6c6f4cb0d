import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { cancelOperation, getOperation, listOperations } from '@vmo/shared/api';
import { deniedByPolicy } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import * as workspaces from '@vmo/shared/workspaces';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { visibleWorkspace, workspaceActor } from './workspaces.ts';

/**
 * /v1/operations (issue 18): every action on a workspace. Seen by the workspace's owner and the
 * admins (404 to anyone else, audited as a denial); reading takes `workspaces:read`, a cancel
 * `workspaces:write`.
 */
export function operationRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  const sql = cp.database.sql;

  const visibleOperation = async (c: Context<AuthEnv>, id: string): Promise<string> => {
    if (!isId('wop', id)) throw notFound('operation', id);
    const op = await workspaces.findOperation(sql, id);
    if (!op) throw notFound('operation', id);
    const actor = workspaceActor(c);
    if (!actor.admin && op.ownerId !== actor.userId) throw deniedByPolicy(notFound('operation', id));
    return id;
  };

  openapiRoute(app, listOperations, async (c, input) => {
    const { workspace, ...q } = input.query();
    const actor = workspaceActor(c);
    const workspaceId = workspace === undefined ? undefined : await visibleWorkspace(cp, c, workspace);
    return c.json(await workspaces.listOperations(cp, { ...q, workspaceId, ...(actor.admin ? {} : { ownerId: actor.userId }) }), 200);
  }, { scope: 'workspaces:read' });

  openapiRoute(app, getOperation, async (c, input) => c.json(await workspaces.getOperation(cp, await visibleOperation(c, input.params().id)), 200), { scope: 'workspaces:read' });

  openapiRoute(app, cancelOperation, async (c, input) => {
    const id = await visibleOperation(c, input.params().id);
    return c.json(await workspaces.cancelOperation(cp, id, c.get('principal').name), 200);
  }, { scope: 'workspaces:write' });

  return app;
}
