import { z } from 'zod';
import { ShellAgentCommands } from './shell.ts';

/**
 * BUS.md §5, on `agent:{id}`: to whichever API node holds that agent's socket (PROTOCOL.md says
 * what the node then sends the agent).
 */
export const AgentCommand = z.discriminatedUnion('type', [
  z.object({
    v: z.literal(1),
    type: z.literal('run'),
    jobId: z.string(),
    attempt: z.number().int(),
    command: z.string(),
    env: z.record(z.string(), z.string()),
    cwd: z.string().nullable(),
    maxOutputBytes: z.number().int(),
    tailBytes: z.number().int(),
    /**
     * The job's secretEnv still sealed (base64 of the job_secrets row, AES-256-GCM): the value never
     * crosses Redis in the clear. The node holding the agent opens it and sends it in the `run`
     * frame as `secretEnv` (PROTOCOL.md §2), or ends the job if it cannot. Optional: absent for a
     * job without secrets; a node that predates it drops it (BUS.md §5).
     */
    sealedSecretEnv: z.string().optional(),
  }),
  z.object({ v: z.literal(1), type: z.literal('cancel'), jobId: z.string(), graceMs: z.number().int() }),
  /**
   * The control plane ended this job without the agent (`lost` while it was away, or revoked):
   * the node holding the agent stops taking the job's output and tells the agent to kill it.
   */
  z.object({ v: z.literal(1), type: z.literal('abandon'), jobId: z.string() }),
  /**
   * Another connection of this agent was accepted: older ones close (4409). `generation` is its
   * creation order (gateway/connection-generation.ts): a connection closes only for a NEWER one.
   * Added within v1: a takeover without it (a node of the version before) closes every other one.
   */
  z.object({ v: z.literal(1), type: z.literal('takeover'), connectionId: z.string(), generation: z.number().int().positive().optional() }),
  /** The agent was revoked: the node holding it closes its socket (4401). */
  z.object({ v: z.literal(1), type: z.literal('revoke') }),
  /**
   * The agent's token was rotated (POST /v1/agents/{id}/rotate-token): the node holding it closes
   * its socket (4410); the agent reconnects once its new token is installed. Added within v1: a
   * node that predates it drops it, and its sweep does not compare tokens (BUS.md §5).
   */
  z.object({ v: z.literal(1), type: z.literal('token_rotated') }),
  /** SHELL.md §S5: for the agent's PTY sessions, forwarded as the same frames (BUS.md §11). */
  ...ShellAgentCommands,
]);
export type AgentCommand = z.infer<typeof AgentCommand>;
