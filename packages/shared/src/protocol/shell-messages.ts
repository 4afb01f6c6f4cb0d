import { z } from 'zod';

/**
 * The shell protocol (SHELL.md beside this file): JSON control frames of both hops. Terminal bytes
 * travel in binary frames (client ↔ API: raw; agent → API: shell-output-frame.ts). Message sets are
 * named by direction, as in agent-messages.ts.
 */

// The constants (SHELL_*, FEATURE_SHELL) live in shell-constants.ts, without zod: the bundled agent
// imports them without these schemas (index.ts exports them).
import { SHELL_MIN_RING_BYTES } from './shell-constants.ts';

const sessionId = z.string().regex(/^shs_[0-9a-z]{20}$/, 'must be a session id (shs_…)');
const attachId = z.string().regex(/^att_[0-9a-z]{20}$/, 'must be an attachment id');
const dimension = z.coerce.number().int().min(1).max(1000);
/** Offsets are byte counts; 2^48 is far beyond any session (and what the binary frame carries). */
const offset = z.number().int().min(0).max(2 ** 48 - 1);
const v = z.literal(1);

// ── client ⇄ API (§S1, §S2) ─────────────────────────────────────────────────────────────

/** §S1 The upgrade's query. */
export const ShellQuery = z.object({
  session: sessionId.optional(),
  offset: z.coerce.number().int().min(0).max(2 ** 48 - 1).default(0),
  cols: dimension.default(80),
  rows: dimension.default(24),
  command: z.string().min(1).max(4096).refine((s) => !s.includes('\u0000'), 'must not contain NUL').optional(),
});
export type ShellQuery = z.infer<typeof ShellQuery>;

export const ShellClientResize = z.object({ type: z.literal('resize'), cols: dimension, rows: dimension });
export const ShellClientAck = z.object({ type: z.literal('ack'), offset });
export const ShellClientClose = z.object({ type: z.literal('close') });
export const ShellClientMessage = z.discriminatedUnion('type', [ShellClientResize, ShellClientAck, ShellClientClose]);
export type ShellClientMessage = z.infer<typeof ShellClientMessage>;

export const ShellServerHello = z.object({ type: z.literal('hello'), session: sessionId, offset, reset: z.boolean() });
export const ShellServerExit = z.object({ type: z.literal('exit'), code: z.number().int().nullable(), signal: z.string().nullable() });
export const ShellServerError = z.object({ type: z.literal('error'), code: z.string(), message: z.string() });
export const ShellServerMessage = z.discriminatedUnion('type', [ShellServerHello, ShellServerExit, ShellServerError]);
export type ShellServerMessage = z.infer<typeof ShellServerMessage>;

/** Close codes of a client's shell socket. */
export const ShellCloseCode = {
  /** The shell exited (after `exit`). */
  exited: 1000,
  /** The client detached (`close`), or the server is going away (1012, reconnect). */
  detached: 1000,
  restart: 1012,
  policy: 1008,
  error: 1011,
  /** The session is gone (reaped, ended, or the agent lost it): do not reconnect to it. */
  gone: 4404,
} as const;

// ── API ⇄ agent (§S5), on the agent's socket ────────────────────────────────────────────

export const ServerShellOpen = z.object({
  type: z.literal('shell_open'),
  v,
  session: sessionId,
  attach: attachId,
  /** True only for the open that creates the session: a reattach to a session the agent lost is `session_not_found`, never a new shell under the old id. */
  create: z.boolean(),
  offset,
  cols: dimension,
  rows: dimension,
  command: z.string().min(1).max(4096).nullable(),
  graceMs: z.number().int().min(0).max(24 * 3_600_000),
  ringBytes: z.number().int().min(SHELL_MIN_RING_BYTES).max(64 * 1024 * 1024),
});
export type ServerShellOpen = z.infer<typeof ServerShellOpen>;
export const ServerShellInput = z.object({ type: z.literal('shell_input'), v, session: sessionId, data: z.base64().max(96 * 1024) });
export const ServerShellResize = z.object({ type: z.literal('shell_resize'), v, session: sessionId, cols: dimension, rows: dimension });
export const ServerShellAck = z.object({ type: z.literal('shell_ack'), v, session: sessionId, attach: attachId, offset });
export const ServerShellDetach = z.object({ type: z.literal('shell_detach'), v, session: sessionId, attach: attachId });

export const AgentShellAttached = z.object({ type: z.literal('shell_attached'), v, session: sessionId, attach: attachId, offset, reset: z.boolean() });
export const AgentShellExit = z.object({ type: z.literal('shell_exit'), v, session: sessionId, code: z.number().int().nullable(), signal: z.string().max(16).nullable() });
export const AgentShellError = z.object({
  type: z.literal('shell_error'),
  v,
  session: sessionId,
  attach: attachId.nullable(),
  code: z.enum(['session_not_found', 'spawn_failed', 'bad_offset']),
  message: z.string().max(1024),
});
export type AgentShellAttached = z.infer<typeof AgentShellAttached>;
export type AgentShellExit = z.infer<typeof AgentShellExit>;
export type AgentShellError = z.infer<typeof AgentShellError>;

