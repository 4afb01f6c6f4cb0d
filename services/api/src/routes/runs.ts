import { OpenAPIHono } from '@hono/zod-openapi';
import { cancelRun, getRun, listRunJobs, listRuns, runSummary, submitRun } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { parseLabelSelector } from '@vmo/shared/domain';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import * as runs from '@vmo/shared/runs';
import { type AuthEnv, principalKey } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

export interface RunRouteOptions {
  /** VMO_MAX_RUN_TARGETS: a run matching more is 422 `too_many_targets`. */
  maxTargets: number;
}

/** /v1/runs: submit a fleet run, list runs, read one (counts, children, summary), cancel. The live stream is elsewhere. */
export function runRoutes(cp: ControlPlane, { maxTargets }: RunRouteOptions) {
  const app = new OpenAPIHono<AuthEnv>();
  /** A run's view by id; an id that is not even a run id is the same 404 as an unknown one. */
  const loadRun = async (id: string) => {
    const run = isId('run', id) ? await runs.getRunView(cp, id) : undefined;
    if (!run) throw notFound('run', id);
    return run;
  };
  const runId = (id: string) => {
    if (!isId('run', id)) throw notFound('run', id);
    return id;
  };

  openapiRoute(app, submitRun, async (c, input) => {
    const body = await input.body();
    const key = input.headers()['Idempotency-Key'];
    const principal = c.get('principal');
    // The contract parsed the selector already (a parse error was its 400 naming targets.selector): this cannot throw.
    const selector = body.targets.selector === undefined ? undefined : parseLabelSelector(body.targets.selector);
    const { run, replayed } = await runs.submitRun(cp, body, {
      ...(selector ? { selector } : {}),
      createdBy: principal.name,
      ownerId: principal.userId,
      ...(key === undefined ? {} : { idempotency: { principal: principalKey(principal), key } }),
      maxTargets,
    });
    c.header('Location', `/v1/runs/${run.id}`);
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(await loadRun(run.id), 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listRuns, async (c, input) => c.json(await runs.listRuns(cp, input.query()), 200), { scope: 'jobs:read' });

  openapiRoute(app, getRun, async (c, input) => c.json(await loadRun(input.params().id), 200), { scope: 'jobs:read' });

  openapiRoute(app, listRunJobs, async (c, input) => {
    const id = runId(input.params().id);
    return c.json(await runs.listRunJobs(cp, id, input.query()), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, cancelRun, async (c, input) => {
    const id = runId(input.params().id);
    if (!(await runs.getRunHead(cp.database.sql, id))) throw notFound('run', id); // before the body is read, as a job's cancel does
    const body = await input.body();
    await runs.cancelRun(cp, id, body.graceMs);
    return c.json(await loadRun(id), 202);
  }, { scope: 'jobs:cancel' });

  openapiRoute(app, runSummary, async (c, input) => c.json(await runs.runSummary(cp, runId(input.params().id)), 200), { scope: 'jobs:read' });

  return app;
}
