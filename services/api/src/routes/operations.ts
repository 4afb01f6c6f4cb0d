import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { cancelOperation, getOperation, listOperations, operationLogs } from '@vmo/shared/api';
import type { BusSubscriber } from '@vmo/shared/bus';
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
export function operationRoutes(cp: ControlPlane, opts: { bus?: BusSubscriber | undefined } = {}) {
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

  openapiRoute(app, operationLogs, async (c, input) => {
    const id = await visibleOperation(c, input.params().id);
    const q = input.query();
    c.header('Content-Type', 'application/x-ndjson');
    // A raw streamed answer (as GET /v1/jobs/{id}/logs): its lines are the contract's OperationLogLine.
    return stream(c, async (out) => {
      const abort = new AbortController();
      out.onAbort(() => abort.abort());
      if (q.follow !== 'true') {
        for (const line of await workspaces.readOperationLogs(cp, id, { afterSeq: q.after ?? 0 })) await out.write(JSON.stringify(line) + '\n');
        return;
      }
      // Without the bus (an app built without one, as in-process tests do) it polls Postgres: each
      // line still comes, within a second.
      const lines = workspaces.followOperationLogs(cp, opts.bus ?? POLL_ONLY, id, { afterSeq: q.after ?? 0, signal: abort.signal });
      for (;;) {
        const next = await lines.next();
        if (next.done) {
          if (next.value) await out.write(JSON.stringify({ end: next.value }) + '\n');
          return;
        }
        await out.write(JSON.stringify(next.value) + '\n');
        if (out.aborted) return;
      }
    }) as never;
  }, { scope: 'workspaces:read' });

  return app;
}

/** A subscriber that never wakes anyone: followOperationLogs then reads Postgres every second. */
const POLL_ONLY = { operationLog: async () => () => {} } as unknown as BusSubscriber;
