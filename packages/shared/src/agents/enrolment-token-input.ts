import { z } from 'zod';
import { AgentLabelsInput } from '../domain/workspace-agent-labels.ts';
import { storableText } from '../domain/storable-text.ts';

/** Far above any fleet, and inside the column's `integer`. */
export const MAX_ENROLMENT_USES = 1_000_000;

const USES_MESSAGE = `must be a whole number from 1 to ${MAX_ENROLMENT_USES}; leave it out for no limit until expiresAt`;

/** One year from `now`: an enrolment token is a standing credential, so it may not live forever. */
export function latestEnrolmentExpiry(now = new Date()): Date {
  const limit = new Date(now);
  limit.setUTCFullYear(limit.getUTCFullYear() + 1);
  return limit;
}

/**
 * Body of POST /v1/enrolment-tokens. `expiresAt` is required and at most a year away: a token baked
 * into a machine image is a credential that can create agents, so it must end on its own.
 * `labels` go to every agent enrolled with it (the fleet's labels: `team=a`, `env=staging`).
 */
export const EnrolmentTokenInput = z
  .object({
    name: storableText(z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters')).optional().meta({
      description: 'What the token is for (shown in listings)',
      example: 'team-a staging image',
    }),
    labels: AgentLabelsInput.default({}).meta({ description: 'Given to every agent enrolled with this token, as if at registration' }),
    expiresAt: z
      .iso.datetime({
        offset: true,
        error: (issue) => `${issue.input === undefined ? 'is required' : 'must be'} an ISO 8601 time with a zone, e.g. 2027-01-31T00:00:00Z`,
      })
      .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
      .refine((v) => Date.parse(v) <= latestEnrolmentExpiry().getTime(), 'must be at most one year from now')
      .meta({ description: 'After this the token enrols no agent; at most one year from now' }),
    maxUses: z
      .number({ error: USES_MESSAGE })
      .int(USES_MESSAGE)
      .min(1, USES_MESSAGE)
      .max(MAX_ENROLMENT_USES, USES_MESSAGE)
      .optional()
      .meta({ description: 'At most this many agents enrolled with it; absent: any number until expiresAt', example: 50 }),
  })
  .strict();
export type EnrolmentTokenInput = z.infer<typeof EnrolmentTokenInput>;
