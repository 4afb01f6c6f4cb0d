import { z } from 'zod';
import { JOB_STATUSES } from '../../domain/job-status.ts';

/**
 * BUS.md §3, on `job:{id}:ev`: what happened to a job. Published by the lifecycle module (status
 * and end) and by the gateway (started). Never carries output: a consumer that wants events gets
 * no output bytes (§4 is a channel of its own).
 */
export const JobEvent = z.discriminatedUnion('type', [
  /** The job moved to a non-terminal status (today: `running`). */
  z.object({ v: z.literal(1), type: z.literal('status'), status: z.enum(JOB_STATUSES) }),
  /** The agent confirmed the dispatch of this attempt (the worker stops re-sending it). */
  z.object({ v: z.literal(1), type: z.literal('started'), attempt: z.number().int() }),
  /** The job ended. LOUD: published only after every output chunk is durable (§7). */
  z.object({
    v: z.literal(1),
    type: z.literal('end'),
    status: z.enum(JOB_STATUSES),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
  }),
]);
export type JobEvent = z.infer<typeof JobEvent>;
