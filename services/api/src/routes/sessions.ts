import { OpenAPIHono } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { listSessions, sessionLogs } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound } from '@vmo/shared/errors';
import { getShellSession, listShellSessions, readShellOutput, shellSessionView } from '@vmo/shared/shells';
import type { AuthEnv, Principal } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** Issue 17: recorded shell sessions (protocol/SHELL.md §S7). An admin sees all; anyone else their own. */
export function sessionRoutes(cp: ControlPlane) {
  const app = new OpenAPIHono<AuthEnv>();
  const sql = cp.database.sql;
  const own = (p: Principal) => (p.role === 'admin' ? undefined : p.userId);

  openapiRoute(app, listSessions, async (c, input) => {
    const q = input.query();
    const rows = await listShellSessions(sql, { target: q.target, user: q.user, beforeId: q.cursor, onlyUserId: own(c.get('principal')), limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return c.json({ items: page.map(shellSessionView), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null }, 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, sessionLogs, async (c, input) => {
    const id = input.params().id;
    const recorded = input.query().stream === 'input' ? 0 : 1;
    const row = await getShellSession(sql, id);
    const mine = own(c.get('principal'));
    if (!row || (mine !== undefined && row.user_id !== mine)) throw notFound('shell session', id);
    c.header('Content-Type', 'application/octet-stream');
    return stream(c, async (out) => {
      let after = -1;
      for (;;) {
        const page = await readShellOutput(sql, id, after, 1000, recorded);
        if (page.length === 0 || out.aborted) return;
        await out.write(Buffer.concat(page.map((p) => p.data)));
        after = page.at(-1)!.offset;
      }
    });
  }, { scope: 'jobs:read' });

  return app;
}
