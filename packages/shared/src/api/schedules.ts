import { z } from 'zod';
import { FIRE_KINDS, FIRE_OUTCOMES, SCHEDULE_CATCH_UPS, SCHEDULE_OVERLAPS } from '../domain/schedule.ts';
import { storableString } from '../errors/storable-text.ts';
import { CreateScheduleInput, ScheduledJobInput, ScheduledRunInput, UpdateScheduleInput } from '../schedules/schedule-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

const ScheduledJob = ScheduledJobInput.meta({
  id: 'ScheduledJob',
  description: 'What each tick submits to POST /v1/jobs, as the owner: a job body (defaults filled in), without `secretEnv` (not supported on schedules yet)',
});
const ScheduledRun = ScheduledRunInput.meta({
  id: 'ScheduledRun',
  description: 'What each tick submits to POST /v1/runs, as the owner: a run body (defaults filled in; the targets are resolved again at each tick), without `secretEnv`',
});

export const ScheduleFire = z
  .object({
    at: when("The tick's time (a trigger: when it was asked)"),
    kind: z.enum(FIRE_KINDS).meta({ description: '`tick`: the expression; `trigger`: POST /v1/schedules/{id}/trigger' }),
    outcome: z.enum(FIRE_OUTCOMES).meta({
      description:
        '`fired`: its job or run exists (`jobId` / `runId`); `skipped`: nothing was created (`reason.code` `overlap`: the previous one had not ended; `missed`: ticks missed while no scheduler ran, the latest shown, `catchUp: none`); `failed`: the submission as the owner was refused (`reason` is the refusal: `target_forbidden`, `owner_cannot_run`, `unknown_agent`, `no_targets`, …); `pending`: being created',
    }),
    reason: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'Why it was skipped or failed; `caught_up` on the one late fire of `catchUp: latest`' }),
    jobId: z.string().nullable(),
    runId: z.string().nullable(),
    status: z.string().nullable().meta({ description: "The job's or run's status now; null when there is none" }),
    firedAt: when('When its job or run was created').nullable(),
  })
  .meta({ id: 'ScheduleFire' });
export type ScheduleFire = z.infer<typeof ScheduleFire>;

const ScheduleFields = {
  id: z.string().meta({ example: 'sch_0123456789abcdefghij' }),
  name: z.string(),
  cron: z.string().meta({ description: 'Five fields (minute hour day-of-month month day-of-week) or six (seconds first), or @hourly, @daily, @weekly, @monthly, @yearly', example: '30 2 * * *' }),
  timezone: z.string().meta({ description: 'IANA timezone the fields are read in', example: 'Europe/Berlin' }),
  job: ScheduledJob.nullable(),
  run: ScheduledRun.nullable(),
  overlap: z.enum(SCHEDULE_OVERLAPS),
  catchUp: z.enum(SCHEDULE_CATCH_UPS),
  paused: z.boolean(),
  ownerId: z.string().nullable().meta({ description: 'The user it fires as (null: the bootstrap admin)' }),
  createdBy: z.string().nullable(),
  createdAt: when('When it was created'),
  updatedAt: when('When it was last changed'),
  nextFires: z.array(z.string()).meta({ description: 'The next five ticks (ISO 8601, UTC); empty while paused', example: ['2026-03-29T01:00:00.000Z'] }),
};

export const Schedule = z.object({ ...ScheduleFields, lastFires: z.array(ScheduleFire).meta({ description: 'The last ten fires, newest first' }) }).meta({ id: 'Schedule' });
export type Schedule = z.infer<typeof Schedule>;
export const ScheduleListItem = z.object({ ...ScheduleFields, lastFire: ScheduleFire.nullable() }).meta({ id: 'ScheduleListItem' });
export const SchedulePage = z
  .object({ items: z.array(ScheduleListItem), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) })
  .meta({ id: 'SchedulePage' });

export const ScheduleIdParams = z.object({ id: storableString().meta({ description: 'The schedule id (`sch_…`)', example: 'sch_0123456789abcdefghij' }) });

export const ListSchedulesQuery = z
  .object({
    limit: intParam(1, 500, 50),
    cursor: z.string().regex(/^sch_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

const ACCESS =
  'A schedule is its owner\'s (who created it) and the admins\': to anyone else every route of it is 404. It fires AS its owner: each tick submits its job or run through POST /v1/jobs\' or POST /v1/runs\' own checks with the owner\'s role and policies as they are at that moment; a tick the owner may no longer make is recorded as a failed fire with the refusal as its reason.';
const RULES =
  '`cron`: five fields or six (seconds first), read in `timezone` (IANA, default UTC), daylight saving included: a fixed time in the skipped hour fires at the first time after it, a fixed time that happens twice fires once. `overlap` (the previous job or run has not ended): `skip` (default) records the tick as skipped, `queue` fires anyway, `cancel_previous` cancels it, then fires. `catchUp` (ticks that came while no worker ran, seen more than 5 s late): `none` (default) skips them, `latest` fires once for the most recent. Exactly one job or run per tick, whatever the number of workers.';
const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;
/** The refusals of a submission (POST /v1/jobs, /v1/runs) of the schedule's body by its owner. */
const AS_SUBMISSION = {
  403: ['forbidden', 'target_forbidden'],
  422: ['unknown_agent', 'unknown_host', 'ambiguous_host', 'no_targets', 'too_many_targets', 'invalid_strategy', 'owner_cannot_run'],
} as const;

export const createSchedule = defineRoute({
  method: 'post',
  path: '/v1/schedules',
  operationId: 'createSchedule',
  tags: ['schedules'],
  summary: 'Run a job or a fleet run on a cron schedule',
  description: `${RULES} ${ACCESS} Exactly one of \`job\` (a POST /v1/jobs body) and \`run\` (a POST /v1/runs body); it is checked now as its submission by you would be (the same 4xx, the field under \`job.\` or \`run.\`), and nothing is created if it is refused. An invalid expression or zone is 400 naming \`cron\` or \`timezone\`. The first tick is the first one after now.`,
  request: { body: { required: true, content: json(CreateScheduleInput.meta({ id: 'ScheduleInput' })) } },
  responses: {
    201: { description: 'Created', headers: z.object({ Location: z.string().meta({ description: '`/v1/schedules/{id}`' }) }), content: json(Schedule) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, ...AS_SUBMISSION, 409: ['schedule_exists'] }),
  },
});

export const listSchedules = defineRoute({
  method: 'get',
  path: '/v1/schedules',
  operationId: 'listSchedules',
  tags: ['schedules'],
  summary: 'List schedules, newest first',
  description: 'Yours (admins: all), each with its next ticks and its last fire. Keyset pagination: pass `nextCursor` as `cursor`. Unknown parameters are refused.',
  request: { query: ListSchedulesQuery },
  responses: { 200: { description: 'A page of schedules', content: json(SchedulePage) }, ...errorResponses(AUTHENTICATED) },
});

export const getSchedule = defineRoute({
  method: 'get',
  path: '/v1/schedules/{id}',
  operationId: 'getSchedule',
  tags: ['schedules'],
  summary: 'A schedule, its next five ticks and its last fires',
  description: ACCESS,
  request: { params: ScheduleIdParams },
  responses: { 200: { description: 'The schedule', content: json(Schedule) }, ...errorResponses(NOT_FOUND) },
});

export const updateSchedule = defineRoute({
  method: 'patch',
  path: '/v1/schedules/{id}',
  operationId: 'updateSchedule',
  tags: ['schedules'],
  summary: 'Change, pause or resume a schedule',
  description: `Any of the fields. \`job\` replaces a run and \`run\` a job; a new body is checked as a submission by the schedule's OWNER (who it fires as, whoever changes it). \`paused: true\` stops its ticks; \`paused: false\` resumes from the next tick to come (the ticks of the pause do not fire later). A new \`cron\` or \`timezone\` applies from the next tick after now. ${RULES}`,
  request: { params: ScheduleIdParams, body: { required: true, content: json(UpdateScheduleInput.meta({ id: 'SchedulePatch' })) } },
  responses: {
    200: { description: 'The schedule after the change', content: json(Schedule) },
    ...errorResponses({ ...NOT_FOUND, ...BAD_BODY, ...AS_SUBMISSION, 409: ['schedule_exists'] }),
  },
});

export const deleteSchedule = defineRoute({
  method: 'delete',
  path: '/v1/schedules/{id}',
  operationId: 'deleteSchedule',
  tags: ['schedules'],
  summary: 'Delete a schedule',
  description: 'No tick fires from now on, and its fire history goes with it. Jobs and runs it created are left as they are (cancel them on their own).',
  request: { params: ScheduleIdParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(NOT_FOUND) },
});

export const triggerSchedule = defineRoute({
  method: 'post',
  path: '/v1/schedules/{id}/trigger',
  operationId: 'triggerSchedule',
  tags: ['schedules'],
  summary: 'Fire a schedule now',
  description:
    'Submits its job or run now, as its owner, exactly as a tick would, and records the fire (kind `trigger`). It is not a tick: the next tick still fires when it comes, `overlap` is not applied (you asked for this one), and a paused schedule may be triggered. A refusal (the owner may not run there now, a target is gone) is the answer, with nothing recorded.',
  request: { params: ScheduleIdParams },
  responses: {
    201: { description: 'Fired: its job or run', headers: z.object({ Location: z.string().meta({ description: '`/v1/jobs/{id}` or `/v1/runs/{id}`' }) }), content: json(ScheduleFire) },
    ...errorResponses({ ...NOT_FOUND, ...AS_SUBMISSION, 503: ['unavailable'] }),
  },
});
