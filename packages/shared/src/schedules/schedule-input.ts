import { z } from 'zod';
import { LabelSelectorError, parseLabelSelector } from '../domain/label-selector.ts';
import { SCHEDULE_CATCH_UPS, SCHEDULE_OVERLAPS } from '../domain/schedule.ts';
import { storableText } from '../domain/storable-text.ts';
import { JobInput } from '../jobs/job-input.ts';
import { RunInput } from '../runs/run-input.ts';

/**
 * The bodies of POST and PATCH /v1/schedules: pure zod (the client loads them). What zod cannot
 * judge without a cron parser or the database (the expression, the timezone, the targets and the
 * caller's right to run there) is checked by the service, with the same 400 naming the field.
 */

export const MAX_SCHEDULE_NAME = 100;
/** Longer than any expression a person writes (six fields of lists); a bound, not a rule. */
export const MAX_CRON_LENGTH = 256;

export const ScheduleName = storableText(
  z
    .string({ error: 'is required and must be a string' })
    .min(1, 'must not be empty')
    .max(MAX_SCHEDULE_NAME, `must be at most ${MAX_SCHEDULE_NAME} characters`)
    .refine((n) => n.trim() === n && n.length > 0, 'must not start or end with spaces'),
);

export const CronExpression = z
  .string({ error: 'is required and must be a string: five fields (minute hour day-of-month month day-of-week), or six with seconds first' })
  .min(1, 'must not be empty')
  .max(MAX_CRON_LENGTH, `must be at most ${MAX_CRON_LENGTH} characters`);

export const TimezoneName = z.string({ error: 'must be an IANA timezone name such as "Europe/Berlin"' }).min(1, 'must not be empty').max(64, 'must be at most 64 characters');

/**
 * A scheduled job: POST /v1/jobs' body, less `runAt` (the tick is the time) and `secretEnv` (not yet: a schedule would have to keep
 * the values sealed for its whole life; a tick's job gets its secrets from where it runs instead).
 */
export const ScheduledJobInput = JobInput.superRefine((job, ctx) => {
  if (job.secretEnv !== undefined) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'is not supported on a schedule yet; read secrets on the target instead (a file, a vault agent)' });
  if (job.runAt !== undefined) ctx.addIssue({ code: 'custom', path: ['runAt'], message: 'has no meaning on a schedule: each tick is the time its job runs' });
});

/** A scheduled fleet run: POST /v1/runs' body (its selector parsed here, as there), less `secretEnv`. */
export const ScheduledRunInput = RunInput.superRefine((run, ctx) => {
  if (run.secretEnv !== undefined) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'is not supported on a schedule yet; read secrets on the targets instead (a file, a vault agent)' });
  if (run.runAt !== undefined) ctx.addIssue({ code: 'custom', path: ['runAt'], message: 'has no meaning on a schedule: each tick is the time its run starts' });
  const selector = run.targets.selector;
  if (selector === undefined) return;
  try {
    parseLabelSelector(selector);
  } catch (err) {
    if (!(err instanceof LabelSelectorError)) throw err;
    ctx.addIssue({ code: 'custom', path: ['targets', 'selector'], message: err.message, params: { position: err.position } });
  }
});
export type ScheduledJobInput = z.infer<typeof ScheduledJobInput>;
export type ScheduledRunInput = z.infer<typeof ScheduledRunInput>;

const ONE_OF = 'give exactly one of job (a POST /v1/jobs body) or run (a POST /v1/runs body)';

export const CreateScheduleInput = z
  .object({
    name: ScheduleName,
    cron: CronExpression,
    timezone: TimezoneName.default('UTC'),
    job: ScheduledJobInput.optional(),
    run: ScheduledRunInput.optional(),
    overlap: z.enum(SCHEDULE_OVERLAPS, { error: `must be one of ${SCHEDULE_OVERLAPS.join(', ')}` }).default('skip'),
    catchUp: z.enum(SCHEDULE_CATCH_UPS, { error: `must be one of ${SCHEDULE_CATCH_UPS.join(', ')}` }).default('none'),
    paused: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.job === undefined) === (s.run === undefined)) ctx.addIssue({ code: 'custom', path: [s.job === undefined ? 'job' : 'run'], message: ONE_OF });
  });
export type CreateScheduleInput = z.infer<typeof CreateScheduleInput>;

/** PATCH: any of the fields; `job` replaces a run and `run` a job (never both). */
export const UpdateScheduleInput = z
  .object({
    name: ScheduleName.optional(),
    cron: CronExpression.optional(),
    timezone: TimezoneName.optional(),
    job: ScheduledJobInput.optional(),
    run: ScheduledRunInput.optional(),
    overlap: z.enum(SCHEDULE_OVERLAPS, { error: `must be one of ${SCHEDULE_OVERLAPS.join(', ')}` }).optional(),
    catchUp: z.enum(SCHEDULE_CATCH_UPS, { error: `must be one of ${SCHEDULE_CATCH_UPS.join(', ')}` }).optional(),
    paused: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.job !== undefined && s.run !== undefined) ctx.addIssue({ code: 'custom', path: ['run'], message: ONE_OF });
  });
export type UpdateScheduleInput = z.infer<typeof UpdateScheduleInput>;
