import { z } from 'zod';

/**
 * The body of POST /v1/workspaces/{id}/sessions: pure zod (the client loads it). Whether startAt is
 * still ahead is the service's check (on its clock), with the same 400 naming the field.
 */

export const MAX_SESSION_DURATION_MS = 7 * 24 * 3_600_000;
export const MAX_SESSION_PREPARE_LEAD_MS = 24 * 3_600_000;
export const DEFAULT_SESSION_PREPARE_LEAD_MS = 300_000;
/** How far ahead a session may be booked. */
export const MAX_SESSION_AHEAD_MS = 366 * 24 * 3_600_000;

const START_AT_FORMAT = 'must be an ISO 8601 time with a UTC offset, such as 2030-01-31T09:00:00Z or 2030-01-31T10:00:00+01:00';
const isoWithOffset = [z.iso.datetime({ offset: true }), z.iso.datetime({ offset: true, precision: -1 })];
const wholeMs = (min: number, max: number, what: string) =>
  z
    .number({ error: `must be a whole number of milliseconds from ${min} to ${max} (${what})` })
    .int(`must be a whole number of milliseconds from ${min} to ${max} (${what})`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max} (${what})`);

export const CreateWorkspaceSessionInput = z
  .object({
    startAt: z
      .string({ error: START_AT_FORMAT })
      .refine((s) => isoWithOffset.some((f) => f.safeParse(s).success), START_AT_FORMAT)
      .meta({ description: 'When the session begins (ISO 8601 with a UTC offset); must be in the future, at most a year ahead', example: '2030-01-31T09:00:00Z' }),
    durationMs: wholeMs(1, MAX_SESSION_DURATION_MS, 'at most 7 days').meta({ description: 'How long it lasts: the workspace is stopped at startAt + durationMs, even if in use', example: 3_600_000 }),
    prepareLeadMs: wholeMs(0, MAX_SESSION_PREPARE_LEAD_MS, 'at most a day')
      .default(DEFAULT_SESSION_PREPARE_LEAD_MS)
      .meta({ description: 'How long before startAt the workspace is started, so that it is up (its agent connected) by startAt; default 5 minutes', example: 300_000 }),
  })
  .strict();
export type CreateWorkspaceSessionInput = z.infer<typeof CreateWorkspaceSessionInput>;

