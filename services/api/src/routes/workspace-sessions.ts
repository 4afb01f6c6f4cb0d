import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { cancelWorkspaceSession, createWorkspaceSession, listWorkspaceSessions } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import * as workspaces from '@vmo/shared/workspaces';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { visibleWorkspace } from './workspaces.ts';

/**
 * /v1/workspaces/{id}/sessions (issue 18): book, list and cancel scheduled sessions. These routes
 * only write rows; the workers' lifecycle loop starts and stops the workspace for them.
 *
 * Access: the workspace's owner and the admins, as the workspace's own routes
 * (@vmo/shared/workspaces findWorkspaceId: an id, or a name); to anyone else the workspace does not
 * exist (404, audited as a denial), checked before the body is read so that a hidden workspace's
 * answer tells nothing of the body. Booking and canceling take `workspaces:write`, reading
 * `workspaces:read`.
 */
export function workspaceSessionRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  /** The workspace's id once the caller may see it. */
  const visible = (c: Context<AuthEnv>, ref: string): Promise<string> => visibleWorkspace(cp, c, ref);

  openapiRoute(app, createWorkspaceSession, async (c, input) => {
    const id = await visible(c, input.params().id);
    const session = await workspaces.createWorkspaceSession(cp, id, await input.body(), { name: c.get('principal').name });
    c.header('Location', `/v1/workspaces/${id}/sessions/${session.id}`);
    return c.json(session, 201);
  }, { scope: 'workspaces:write' });

  openapiRoute(app, listWorkspaceSessions, async (c, input) => {
    const id = await visible(c, input.params().id);
    const q = input.query();
    return c.json(await workspaces.listWorkspaceSessions(cp, id, { limit: q.limit, upcoming: q.upcoming === 'true' }), 200);
  }, { scope: 'workspaces:read' });

  openapiRoute(app, cancelWorkspaceSession, async (c, input) => {
    const { id: ref, sid } = input.params();
    const id = await visible(c, ref);
    if (!isId('wse', sid)) throw notFound('session', sid);
    await workspaces.cancelWorkspaceSession(cp, id, sid);
    return c.body(null, 204);
  }, { scope: 'workspaces:write' });

  return app;
}
