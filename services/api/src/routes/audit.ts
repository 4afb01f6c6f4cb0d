import { OpenAPIHono } from '@hono/zod-openapi';
import { encodeAuditCursor, listAudit, type AuditEventView } from '@vmo/shared/api';
import { listAuditEvents, type AuditRow } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { requireScope } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** GET /v1/audit: the audit trail, admins only (scope audit:read). */
export function auditRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  app.use(listAudit.path, requireScope('audit:read'));
  openapiRoute(app, listAudit, async (c, input) => {
    const q = input.query();
    const rows = await listAuditEvents(cp.database.sql, {
      actor: q.actor,
      action: q.action,
      resourceType: q.resource?.type,
      resourceId: q.resource?.id,
      result: q.result,
      since: q.since,
      until: q.until,
      after: q.cursor,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const nextCursor = rows.length > q.limit ? encodeAuditCursor(page.at(-1)!.cursor) : null;
    return c.json({ items: page.map(auditEventView), nextCursor }, 200);
  });
  return app;
}

function auditEventView(r: AuditRow): AuditEventView {
  return {
    id: r.id,
    at: r.at,
    actor: { kind: r.actorKind, id: r.actorId, name: r.actorName, tokenId: r.tokenId },
    action: r.action,
    resource: { type: r.resourceType, id: r.resourceId },
    targets: r.targets,
    sourceIp: r.sourceIp,
    requestId: r.requestId,
    result: r.result,
    status: r.status,
    detail: r.detail,
  };
}
