import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  createWorkspace,
  deleteWorkspace,
  getWorkspace,
  listWorkspaces,
  rebuildWorkspace,
  restartWorkspace,
  startWorkspace,
  stopWorkspace,
  updateWorkspace,
} from '@vmo/shared/api';
import { deniedByPolicy } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { AppError, notFound } from '@vmo/shared/errors';
import { findUser } from '@vmo/shared/users';
import * as workspaces from '@vmo/shared/workspaces';
import { requireAdmin } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * The caller as the workspace services take it. LOUD: THE one place the workspace routes
 * (workspaces, snapshots, operations, sessions, usage) decide who is an admin: by role, as
 * loadGrants and requireAdmin do, never two ways that could drift apart.
 */
export const workspaceActor = (c: Context<AuthEnv>): workspaces.WorkspaceActor => {
  const p = c.get('principal');
  return { userId: p.userId, name: p.name, admin: p.role === 'admin' };
};

/**
 * The workspace's id once the caller may see it (its owner or an admin); anyone else gets the same
 * 404 as for none, audited as a policy's denial (as schedules do).
 */
export async function visibleWorkspace(cp: ControlPlane, c: Context<AuthEnv>, ref: string): Promise<string> {
  const found = await workspaces.findWorkspaceId(cp.database.sql, ref, workspaceActor(c));
  if (!found) throw notFound('workspace', ref);
  if (found.hidden) throw deniedByPolicy(notFound('workspace', ref));
  return found.id;
}

/**
 * /v1/workspaces (issue 18): machines whose life vmo runs. These routes write rows and ask for
 * operations (through requestOperation); the workers' engine runs them. Reading takes
 * `workspaces:read`, acting `workspaces:write`.
 */
export function workspaceRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, createWorkspace, async (c, input) => {
    const created = await workspaces.createWorkspace(cp, await input.body(), workspaceActor(c));
    c.header('Location', `/v1/workspaces/${created.workspace.id}`);
    return c.json(created, 202);
  }, { scope: 'workspaces:write' });

  openapiRoute(app, listWorkspaces, async (c, input) => {
    const { owner, ...q } = input.query();
    const actor = workspaceActor(c);
    let ownerId: string | null | undefined = actor.admin ? undefined : actor.userId;
    if (owner !== undefined) {
      const user = await findUser(cp, owner);
      if (!user) throw new AppError(422, 'unknown_user', `owner: no user with id or name ${JSON.stringify(owner)}`, { field: 'owner' });
      // A non-admin asking for someone else's gets none of them (not an error: nothing to hide either way).
      if (actor.admin) ownerId = user.id;
      else if (user.id !== actor.userId) return c.json({ items: [], nextCursor: null }, 200);
    }
    return c.json(await workspaces.listWorkspaces(cp, { ...q, ownerId }), 200);
  }, { scope: 'workspaces:read' });

  openapiRoute(app, getWorkspace, async (c, input) => c.json(await workspaces.getWorkspace(cp, await visibleWorkspace(cp, c, input.params().id)), 200), { scope: 'workspaces:read' });

  openapiRoute(app, updateWorkspace, async (c, input) => {
    const id = await visibleWorkspace(cp, c, input.params().id); // before the body: a hidden one's 404 tells nothing of it
    return c.json(await workspaces.updateWorkspace(cp, id, await input.body()), 200);
  }, { scope: 'workspaces:write' });

  for (const [route, type] of [[startWorkspace, 'start'], [stopWorkspace, 'stop'], [restartWorkspace, 'restart'], [rebuildWorkspace, 'rebuild']] as const) {
    openapiRoute(app, route, async (c, input) => {
      const id = await visibleWorkspace(cp, c, input.params().id);
      return c.json({ operation: await workspaces.requestWorkspaceAction(cp, id, type, workspaceActor(c)) }, 202);
    }, { scope: 'workspaces:write' });
  }

  openapiRoute(app, deleteWorkspace, async (c, input) => {
    const { orphan } = input.query();
    if (orphan === 'true') requireAdmin(c.get('principal'), 'workspaces:write', 'an orphan delete (without the provider)');
    const id = await visibleWorkspace(cp, c, input.params().id);
    if (orphan === 'true') return c.json(await workspaces.orphanDeleteWorkspace(cp, id, workspaceActor(c)), 200);
    return c.json({ operation: await workspaces.requestWorkspaceAction(cp, id, 'delete', workspaceActor(c)) }, 202);
  }, { scope: 'workspaces:write' });

  return app;
}
