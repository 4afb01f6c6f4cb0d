import { z } from 'zod';
import { WORKSPACE_STATUSES } from '../domain/workspace.ts';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

const Totals = {
  runningSeconds: z.number().meta({ description: 'Seconds it was running in the window (from its operations: see the route)' }),
  jobSeconds: z.number().meta({ description: "Seconds vmo jobs ran on its agent in the window (every attempt, clipped to the window)" }),
  outputBytes: z.number().int().meta({ description: 'Output bytes of the job attempts that started in the window (counted when stored: it outlives output retention)' }),
  cost: z.number().meta({ description: "costPerHour × running hours, each interval at the rate of the template version it ran; 0 when the template has no rate" }),
};

export const WorkspaceUsage = z
  .object({
    workspaceId: z.string(),
    name: z.string(),
    ownerId: z.string().nullable().meta({ description: 'null: the bootstrap admin' }),
    ownerName: z.string(),
    deleted: z.boolean().meta({ description: 'Deleted since: its history still counts' }),
    ...Totals,
    costPerHour: z.number().nullable().meta({ description: "The rate of the template version it is built from now; null: none" }),
  })
  .meta({ id: 'WorkspaceUsage' });

export const UsageReport = z
  .object({
    from: when('The start of the window'),
    to: when('The end of the window, as asked'),
    countedUntil: when('min(to, now): what is running now is counted up to here'),
    workspaces: z.array(WorkspaceUsage).meta({ description: 'Every workspace that existed in the window (deleted ones included), oldest first' }),
    totals: z.object(Totals).meta({ description: 'The sums over `workspaces`' }),
  })
  .meta({ id: 'UsageReport' });

export const UsageOverview = z
  .object({
    month: z.object({ from: when('The first instant of this month (UTC)'), to: when('Now') }),
    workspacesByStatus: z.record(z.enum(WORKSPACE_STATUSES), z.number().int()).meta({ description: 'Live (not deleted) workspaces by their status, derived from their latest operation' }),
    topUsers: z
      .array(z.object({ ownerId: z.string().nullable(), ownerName: z.string(), runningSeconds: z.number(), cost: z.number(), workspaces: z.number().int() }))
      .meta({ description: 'The ten owners with the most running seconds this month, most first' }),
    runningSecondsThisMonth: z.number(),
    costThisMonth: z.number(),
  })
  .meta({ id: 'UsageOverview' });

export const UsageQuery = z
  .object({
    user: storableString().optional().meta({ description: 'A user id or name: their workspaces. Non-admins may name only themselves (anyone else: 403); an unknown user is 422 `unknown_user` (admins)' }),
    workspace: storableString().optional().meta({ description: 'A workspace id or name: that one only (one you may not see: 404)' }),
    from: when('Start of the window (default: the first instant of this month, UTC)').optional(),
    to: when('End of the window (default: now); after `from`. A future `to` counts up to now').optional(),
  })
  .strict();

const RULE =
  'A workspace is running from the END of a succeeded create, start, restart or rebuild until the START of the next stop, restart, rebuild or delete that began (whatever its outcome: a failed stop leaves the workspace `failed`, not running); a restart or rebuild is a stop then a start, so the time between its start and its end is not running. A failed or canceled start counts nothing; a stop canceled before it began closes nothing; a workspace running now counts up to min(to, now); everything is clipped to [from, to).';

export const getUsage = defineRoute({
  method: 'get',
  path: '/v1/usage',
  operationId: 'getUsage',
  tags: ['workspaces'],
  summary: 'Usage per workspace: running seconds, job seconds, output bytes, cost',
  description: `${RULE} Yours (admins: anyone's, or one user's with \`user\`). Job seconds and output bytes are those of the jobs its agent ran.`,
  request: { query: UsageQuery },
  responses: {
    200: { description: 'The report', content: json(UsageReport) },
    ...errorResponses({ ...AUTHENTICATED, 404: ['not_found'], 422: ['unknown_user'] }),
  },
});

export const getUsageOverview = defineRoute({
  method: 'get',
  path: '/v1/usage/overview',
  operationId: 'getUsageOverview',
  tags: ['workspaces'],
  summary: 'Admin overview: workspaces by status, top users and cost this month',
  description: `Admins only (403 for anyone else). This month is the calendar month in UTC, so far. ${RULE}`,
  responses: { 200: { description: 'The overview', content: json(UsageOverview) }, ...errorResponses(AUTHENTICATED) },
});
