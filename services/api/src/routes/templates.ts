import { OpenAPIHono } from '@hono/zod-openapi';
import { createTemplate, deleteTemplate, getTemplate, listTemplates, listTemplateVersions, updateTemplate } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import * as workspaces from '@vmo/shared/workspaces';
import { requireAdmin } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * /v1/templates (issue 18): what workspaces are built from. Reading takes `workspaces:read` (any
 * role); writing takes `workspaces:write` AND the admin role (a template says what machines the
 * control plane makes and how, for everyone), checked before the body is read.
 */
export function templateRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  const sql = cp.database.sql;

  openapiRoute(app, createTemplate, async (c, input) => {
    requireAdmin(c.get('principal'), 'workspaces:write', 'writing templates');
    const template = await workspaces.createTemplate(cp, await input.body(), c.get('principal').name);
    c.header('Location', `/v1/templates/${template.id}`);
    return c.json(template, 201);
  }, { scope: 'workspaces:write' });

  openapiRoute(app, listTemplates, async (c) => c.json({ items: await workspaces.listTemplates(cp) }, 200), { scope: 'workspaces:read' });

  openapiRoute(app, getTemplate, async (c, input) => c.json(await workspaces.findTemplate(sql, input.params().id), 200), { scope: 'workspaces:read' });

  openapiRoute(app, listTemplateVersions, async (c, input) => c.json({ items: await workspaces.listTemplateVersions(cp, input.params().id) }, 200), { scope: 'workspaces:read' });

  openapiRoute(app, updateTemplate, async (c, input) => {
    requireAdmin(c.get('principal'), 'workspaces:write', 'writing templates');
    const id = input.params().id;
    return c.json(await workspaces.updateTemplate(cp, id, await input.body(), c.get('principal').name), 200);
  }, { scope: 'workspaces:write' });

  openapiRoute(app, deleteTemplate, async (c, input) => {
    requireAdmin(c.get('principal'), 'workspaces:write', 'writing templates');
    await workspaces.deleteTemplate(cp, input.params().id);
    return c.body(null, 204);
  }, { scope: 'workspaces:write' });

  return app;
}
