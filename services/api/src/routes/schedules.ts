import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createSchedule, deleteSchedule, getSchedule, listSchedules, triggerSchedule, updateSchedule } from '@vmo/shared/api';
import { deniedByPolicy } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import * as schedules from '@vmo/shared/schedules';
import { grantsOf } from '../access/request-grants.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

export interface ScheduleRouteOptions {
  /** VMO_MAX_RUN_TARGETS, for a scheduled run's targets (as POST /v1/runs). */
  maxTargets: number;
}

/**
 * /v1/schedules (issue 14): cron schedules of a job or a fleet run. The scheduler itself is in the
 * workers (services/worker/src/scheduler.ts); these routes only write and read Postgres.
 *
 * Access: creating, changing, deleting and triggering take `jobs:run` (a schedule is a way to run
 * jobs), reading `jobs:read`. A schedule is its owner's and the admins': to anyone else each route
 * of it is 404 as if there were none (audited as a denial). Its body is judged as a submission by
 * its owner (@vmo/shared/schedules checkAsSubmission), when it is written and at every tick.
 */
export function scheduleRoutes(cp: ControlPlane, { maxTargets }: ScheduleRouteOptions) {
  const app = new OpenAPIHono<AuthEnv>();
  const sql = cp.database.sql;
  /** The schedule's id once the caller may see it: its owner or an admin. */
  const mine = async (c: Context<AuthEnv>, id: string): Promise<string> => {
    if (!isId('sch', id)) throw notFound('schedule', id);
    const [row] = await sql<{ owner_id: string | null }[]>`select owner_id from schedules where id = ${id}`;
    if (!row) throw notFound('schedule', id);
    const grants = await grantsOf(c, cp);
    if (!grants.admin && row.owner_id !== c.get('principal').userId) throw deniedByPolicy(notFound('schedule', id));
    return id;
  };

  openapiRoute(app, createSchedule, async (c, input) => {
    const body = await input.body();
    const p = c.get('principal');
    const schedule = await schedules.createSchedule(cp, body, { userId: p.userId, name: p.name, grants: await grantsOf(c, cp) }, { maxTargets });
    c.header('Location', `/v1/schedules/${schedule.id}`);
    return c.json(schedule, 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listSchedules, async (c, input) => {
    const grants = await grantsOf(c, cp);
    return c.json(await schedules.listSchedules(cp, { ...input.query(), ...(grants.admin ? {} : { ownerId: c.get('principal').userId }) }), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, getSchedule, async (c, input) => c.json(await schedules.getSchedule(cp, await mine(c, input.params().id)), 200), { scope: 'jobs:read' });

  openapiRoute(app, updateSchedule, async (c, input) => {
    const id = await mine(c, input.params().id); // before the body is read: a hidden schedule's 404 tells nothing of the body
    return c.json(await schedules.updateSchedule(cp, id, await input.body(), { maxTargets }), 200);
  }, { scope: 'jobs:run' });

  openapiRoute(app, deleteSchedule, async (c, input) => {
    await schedules.deleteSchedule(cp, await mine(c, input.params().id));
    return c.body(null, 204);
  }, { scope: 'jobs:run' });

  openapiRoute(app, triggerSchedule, async (c, input) => {
    const fire = await schedules.triggerSchedule(cp, await mine(c, input.params().id), { maxTargets });
    c.header('Location', fire.runId ? `/v1/runs/${fire.runId}` : `/v1/jobs/${fire.jobId}`);
    return c.json(fire, 201);
  }, { scope: 'jobs:run' });

  return app;
}
