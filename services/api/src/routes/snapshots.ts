import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots, restoreSnapshot } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import * as workspaces from '@vmo/shared/workspaces';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';
import { visibleWorkspace, workspaceActor } from './workspaces.ts';

/**
 * /v1/workspaces/{id}/snapshots (issue 18). These routes write snapshot rows and ask for
 * `snapshot`/`restore` operations through requestOperation (@vmo/shared/workspaces
 * snapshot-service.ts); the workers' engine runs them. Reading takes `workspaces:read`, the rest
 * `workspaces:write`. A workspace's snapshots are its owner's and the admins': anyone else gets
 * the 404 of a workspace that does not exist (audited as a denial).
 */
export function snapshotRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  const actor = workspaceActor;
  const visible = (c: Context<AuthEnv>, ref: string): Promise<string> => visibleWorkspace(cp, c, ref);
  const snapshotId = (sid: string) => {
    if (!isId('snp', sid)) throw notFound('snapshot', sid);
    return sid;
  };

  openapiRoute(app, createSnapshot, async (c, input) => {
    const id = await visible(c, input.params().id); // before the body: a hidden workspace's 404 tells nothing of it
    const body = await input.body();
    const created = await workspaces.createSnapshot(cp, id, body, actor(c));
    c.header('Location', `/v1/workspaces/${id}/snapshots/${created.snapshot.id}`);
    return c.json(created, 202);
  }, { scope: 'workspaces:write' });

  openapiRoute(app, listSnapshots, async (c, input) => c.json({ items: await workspaces.listSnapshots(cp, await visible(c, input.params().id)) }, 200), { scope: 'workspaces:read' });

  openapiRoute(app, getSnapshot, async (c, input) => {
    const { id, sid } = input.params();
    return c.json(await workspaces.getSnapshot(cp, await visible(c, id), snapshotId(sid)), 200);
  }, { scope: 'workspaces:read' });

  openapiRoute(app, deleteSnapshot, async (c, input) => {
    const { id, sid } = input.params();
    await workspaces.deleteSnapshot(cp, await visible(c, id), snapshotId(sid));
    return c.body(null, 204);
  }, { scope: 'workspaces:write' });

  openapiRoute(app, restoreSnapshot, async (c, input) => {
    const { id, sid } = input.params();
    const ws = await visible(c, id);
    const { into } = await input.body();
    if (into !== 'this') {
      const created = await workspaces.restoreSnapshotIntoNew(cp, ws, snapshotId(sid), into.name, actor(c));
      c.header('Location', `/v1/workspaces/${created.workspace.id}`);
      return c.json(created, 202);
    }
    const operation = await workspaces.restoreSnapshot(cp, ws, snapshotId(sid), actor(c));
    c.header('Location', `/v1/operations/${operation.id}`);
    return c.json({ operation }, 202);
  }, { scope: 'workspaces:write' });

  return app;
}
