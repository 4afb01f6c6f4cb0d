import { z } from 'zod';
import { JOB_STATUSES } from '../domain/job-status.ts';

/**
 * Messages on Redis pub/sub channels (internal, between our own processes). Pub/sub is
 * at-most-once: nothing here may be the only record of anything; Postgres is.
 */

/** On `job:{id}`. Output chunks carry base64 data (JSON), `stream` as 1|2. */
export const JobChannelMessage = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('output'),
    chunks: z.array(z.object({ seq: z.number().int(), stream: z.union([z.literal(1), z.literal(2)]), data: z.string() })),
  }),
  z.object({ t: z.literal('status'), status: z.enum(JOB_STATUSES) }),
  z.object({ t: z.literal('end'), status: z.enum(JOB_STATUSES), exitCode: z.number().int().nullable(), signal: z.string().nullable() }),
  /** The agent confirmed the dispatch (the worker stops re-sending it). */
  z.object({ t: z.literal('started'), attempt: z.number().int() }),
]);
export type JobChannelMessage = z.infer<typeof JobChannelMessage>;

/** On `agent:{id}`: to whichever API node holds that agent's socket. */
export const AgentChannelMessage = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('run'),
    jobId: z.string(),
    attempt: z.number().int(),
    command: z.string(),
    env: z.record(z.string(), z.string()),
    cwd: z.string().nullable(),
    maxOutputBytes: z.number().int(),
    tailBytes: z.number().int(),
  }),
  z.object({ t: z.literal('cancel'), jobId: z.string(), graceMs: z.number().int() }),
  /**
   * The control plane ended this job without the agent (`lost` while it was away): the node
   * holding the agent stops taking the job's output and tells the agent to kill it (§6).
   */
  z.object({ t: z.literal('abandon'), jobId: z.string() }),
  /** Another connection of this agent was accepted: older ones close. */
  z.object({ t: z.literal('takeover'), connectionId: z.string() }),
  z.object({ t: z.literal('revoke') }),
]);
export type AgentChannelMessage = z.infer<typeof AgentChannelMessage>;

/** On `control`: broadcast to every worker (cancel of a local job). */
export const ControlMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('cancel'), jobId: z.string(), graceMs: z.number().int() }),
]);
export type ControlMessage = z.infer<typeof ControlMessage>;
