import { z } from 'zod';
import { AGENT_NAME_PATTERN, AGENT_NAME_RULE } from '../domain/agent-name.ts';
import { AgentLabelsInput } from '../domain/workspace-agent-labels.ts';
import { MaxConcurrentJobsInput } from './max-concurrent-jobs.ts';

export const AgentInput = z
  .object({
    name: z
      .string({ error: 'is required and must be a string' })
      .regex(AGENT_NAME_PATTERN, AGENT_NAME_RULE),
    labels: AgentLabelsInput.default({}),
    maxConcurrentJobs: MaxConcurrentJobsInput.default(null),
  })
  .strict();
export type AgentInput = z.infer<typeof AgentInput>;

/**
 * Body of PATCH /v1/agents/{id}: any subset. `labels` replaces the labels given at registration
 * (those the agent reports about itself are its own); `maxConcurrentJobs: null` removes the limit.
 */
export const AgentPatch = z
  .object({
    labels: AgentLabelsInput.optional(),
    maxConcurrentJobs: MaxConcurrentJobsInput.optional(),
  })
  .strict();
export type AgentPatch = z.infer<typeof AgentPatch>;
