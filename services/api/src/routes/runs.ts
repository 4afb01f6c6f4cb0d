import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { agentsReadableBy, assertAllowed, assertMayRunOnTargets, hostsReadableBy, runAccess, runsReadableBy } from '@vmo/shared/access';
import { cancelRun, getRun, listRunJobs, listRuns, runSummary, submitRun } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { parseLabelSelector } from '@vmo/shared/domain';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import * as runs from '@vmo/shared/runs';
import { grantsOf } from '../access/request-grants.ts';
import { type AuthEnv, principalKey } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

export interface RunRouteOptions {
  /** VMO_MAX_RUN_TARGETS: a run matching more is 422 `too_many_targets`. */
  maxTargets: number;
}

/**
 * /v1/runs: submit a fleet run, list runs, read one (counts, children, summary), cancel. The live
 * stream is elsewhere (streams/run-stream-upgrade.ts).
 *
 * Access (issue 11): each route's scope (openapiRoute), then the policies (@vmo/shared/access). A
 * run is visible to its owner and to whoever may read every one of its targets; to anyone else
 * every route answers 404, as for no run. A run is accepted only if the caller may run on every
 * target it resolves to (403 `target_forbidden` naming the first few, nothing created); a cancel
 * needs `cancel` on every target, or to be the run's owner.
 */
export function runRoutes(cp: ControlPlane, { maxTargets }: RunRouteOptions) {
  const app = new OpenAPIHono<AuthEnv>();
  const sql = cp.database.sql;
  /** A run's view by id; an id that is not even a run id is the same 404 as an unknown one. */
  const loadRun = async (id: string) => {
    const run = isId('run', id) ? await runs.getRunView(cp, id) : undefined;
    if (!run) throw notFound('run', id);
    return run;
  };
  /** The run's id once the caller may see it (one query for a non-admin; none for an admin, whose 404 comes from the read itself). */
  const runId = async (c: Context<AuthEnv>, id: string, opts: { forCancel?: boolean } = {}) => {
    if (!isId('run', id)) throw notFound('run', id);
    return { id, access: await runAccess(sql, await grantsOf(c, cp), id, opts) };
  };

  openapiRoute(app, submitRun, async (c, input) => {
    const body = await input.body();
    const key = input.headers()['Idempotency-Key'];
    const principal = c.get('principal');
    // The contract parsed the selector already (a parse error was its 400 naming targets.selector): this cannot throw.
    const selector = body.targets.selector === undefined ? undefined : parseLabelSelector(body.targets.selector);
    const grants = await grantsOf(c, cp);
    const { run, replayed } = await runs.submitRun(cp, body, {
      // The selector and the lists resolve only among the machines the caller may read: no hidden name nor count in any answer.
      ...(grants.admin ? {} : { visibleTo: { agents: agentsReadableBy(sql, grants), hosts: hostsReadableBy(sql, grants) } }),
      ...(selector ? { selector } : {}),
      createdBy: principal.name,
      ownerId: principal.userId,
      ...(key === undefined ? {} : { idempotency: { principal: principalKey(principal), key } }),
      maxTargets,
      authorize: async (targets) => assertMayRunOnTargets(sql, grants, targets),
    });
    c.header('Location', `/v1/runs/${run.id}`);
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(await loadRun(run.id), 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listRuns, async (c, input) => {
    const grants = await grantsOf(c, cp);
    return c.json(await runs.listRuns(cp, { ...input.query(), ...(grants.admin ? {} : { visibleTo: runsReadableBy(sql, grants) }) }), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, getRun, async (c, input) => c.json(await loadRun((await runId(c, input.params().id)).id), 200), { scope: 'jobs:read' });

  // Every child of a run its caller may see is theirs to see too (their own, or on a target they
  // may read), so the children and the summary need no filter of their own.
  openapiRoute(app, listRunJobs, async (c, input) => {
    const { id } = await runId(c, input.params().id);
    return c.json(await runs.listRunJobs(cp, id, input.query()), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, cancelRun, async (c, input) => {
    const { id, access } = await runId(c, input.params().id, { forCancel: true });
    assertAllowed(access, 'cancel');
    if (!(await runs.getRunHead(sql, id))) throw notFound('run', id); // before the body is read, as a job's cancel does
    const body = await input.body();
    await runs.cancelRun(cp, id, body.graceMs);
    return c.json(await loadRun(id), 202);
  }, { scope: 'jobs:cancel' });

  openapiRoute(app, runSummary, async (c, input) => c.json(await runs.runSummary(cp, (await runId(c, input.params().id)).id), 200), { scope: 'jobs:read' });

  return app;
}
