import { z } from 'zod';

/*
 * BUS.md §11, SHELL.md §S5: the shell relay between the API node a client reached and the one
 * holding the agent. Commands for the agent go on `agent:{id}` (AgentCommand, §5); what the agent
 * says about a session goes on `shell:{session}`, published by the node holding the agent, heard
 * by every node with a client attached.
 */

const session = z.string();
const attach = z.string();
const dimension = z.number().int().min(1).max(1000);
const offset = z.number().int().min(0);

/** The shell commands of the `agent:{id}` family (published by the node a client reached). */
export const ShellAgentCommands = [
  z.object({
    v: z.literal(1),
    type: z.literal('shell_open'),
    session,
    attach,
    create: z.boolean(),
    offset,
    cols: dimension,
    rows: dimension,
    command: z.string().nullable(),
    graceMs: z.number().int().min(0),
    ringBytes: z.number().int().min(1),
  }),
  z.object({ v: z.literal(1), type: z.literal('shell_input'), session, data: z.string() }),
  z.object({ v: z.literal(1), type: z.literal('shell_resize'), session, cols: dimension, rows: dimension }),
  z.object({ v: z.literal(1), type: z.literal('shell_ack'), session, attach, offset }),
  z.object({ v: z.literal(1), type: z.literal('shell_detach'), session, attach }),
] as const;

/** `shell:{session}`: output (base64), an attachment's start, the end, an error. */
export const ShellEvent = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('output'), offset, data: z.string() }),
  z.object({ v: z.literal(1), type: z.literal('attached'), attach, offset, reset: z.boolean() }),
  z.object({ v: z.literal(1), type: z.literal('exit'), code: z.number().int().nullable(), signal: z.string().nullable() }),
  z.object({ v: z.literal(1), type: z.literal('error'), attach: attach.nullable(), code: z.string(), message: z.string() }),
]);
export type ShellEvent = z.infer<typeof ShellEvent>;
