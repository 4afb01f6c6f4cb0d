import { z } from 'zod';
import { storableString } from '../errors/storable-text.ts';
import { LabelsInput } from '../domain/labels.ts';
import { PROTOCOL_VERSION } from './constants.ts';
import { AgentShellAttached, AgentShellError, AgentShellExit, ServerShellAck, ServerShellDetach, ServerShellInput, ServerShellOpen, ServerShellResize } from './shell-messages.ts';

/**
 * Agent ⇄ gateway messages (PROTOCOL.md beside this file). Control messages are JSON text
 * frames carrying `v`; output travels in binary frames (binary-output.ts). Message sets are
 * named by direction. Every inbound frame is parsed with these schemas; a frame that does not
 * parse closes the socket with 1008 (policy violation).
 *
 * The constants (PROTOCOL_VERSION, MAX_FRAME_BYTES, AgentCloseCode…) live in constants.ts, without
 * zod: the bundled agent imports them without these schemas (not re-exported here, or esbuild
 * would keep this file, and zod, for them).
 */

const v = z.literal(PROTOCOL_VERSION);
const jobId = z.string().regex(/^job_[0-9a-z]{20}$/, 'must be a job id');
const seq = z.number().int().min(0).max(2 ** 31 - 1);
/**
 * Strings from the agent end up in Postgres (hostname, labels, exit errors): text Postgres cannot
 * store (NUL, unpaired surrogates) is a protocol violation (1008), not a server error (1012).
 */
const text = () => storableString();

// ── agent → server ──────────────────────────────────────────────────────────────────────

/** §1 Handshake: first frame after the upgrade. `jobs` lists what the agent still holds (§6). */
export const AgentHello = z.object({
  type: z.literal('hello'),
  v,
  agentVersion: text().max(64),
  hostname: text().max(255),
  os: text().max(64),
  arch: text().max(64),
  /** The same rules as labels given at registration (key syntax, ≤ 64 of them, values ≤ 255). */
  labels: LabelsInput.optional(),
  /**
   * What this agent can do beyond protocol version 1 as first written (§1). `secret_env`: it takes
   * `run.secretEnv` and masks those values in the job's output (§2). A server sends `secretEnv`
   * only to an agent that announced it; a server that predates the field ignores it.
   */
  features: z.array(text().max(64)).max(64).optional(),
  jobs: z
    .array(
      z.object({
        jobId,
        attempt: z.number().int().min(0),
        /** Seq of the next chunk the agent would produce (all below it were produced). */
        nextSeq: seq,
        /** Present when the process has ended and the exit is not yet acknowledged. */
        exit: z.object({ exitCode: z.number().int().nullable(), signal: text().max(16).nullable() }).optional(),
      }),
    )
    .max(10_000),
});
export type AgentHello = z.infer<typeof AgentHello>;

/** §2 Dispatch: the command was spawned (or is already running, for a repeated `run`). */
export const AgentStarted = z.object({ type: z.literal('started'), v, jobId, attempt: z.number().int().min(0), pid: z.number().int().nullable() });
export type AgentStarted = z.infer<typeof AgentStarted>;

/** §3 The process ended. `nextSeq` = number of chunks produced; the server ends the job only once it has all of them. */
export const AgentExit = z.object({
  type: z.literal('exit'),
  v,
  jobId,
  attempt: z.number().int().min(0),
  exitCode: z.number().int().nullable(),
  signal: text().max(16).nullable(),
  nextSeq: seq,
  truncated: z.boolean(),
  error: z.object({ code: text().max(64), message: text().max(4096) }).optional(),
  /** §4 True if a cancel signalled the process before it exited; false if it exited first. */
  stopped: z.boolean().optional(),
});
export type AgentExit = z.infer<typeof AgentExit>;

/** §5 Heartbeat. */
export const AgentHeartbeat = z.object({ type: z.literal('heartbeat'), v, running: z.number().int().min(0) });
export type AgentHeartbeat = z.infer<typeof AgentHeartbeat>;

// SHELL.md §S5: shell frames share the agent's socket.
export const AgentToServer = z.discriminatedUnion('type', [AgentHello, AgentStarted, AgentExit, AgentHeartbeat, AgentShellAttached, AgentShellExit, AgentShellError]);
export type AgentToServer = z.infer<typeof AgentToServer>;

// ── server → agent ──────────────────────────────────────────────────────────────────────

/** §1 Handshake answer. `resume` tells, per job the agent reported, the first seq the server lacks. */
export const ServerWelcome = z.object({
  type: z.literal('welcome'),
  v,
  agentId: z.string(),
  heartbeatMs: z.number().int().positive(),
  resume: z.array(z.object({ jobId, nextSeq: seq })),
  /** Jobs the server has already ended (lost, canceled): kill them and forget them (§6 fencing). */
  abandon: z.array(jobId),
});
export type ServerWelcome = z.infer<typeof ServerWelcome>;

/** §2 Run a command. A `run` for a job the agent already holds is answered with `started` again, never run twice. */
export const ServerRun = z.object({
  type: z.literal('run'),
  v,
  jobId,
  attempt: z.number().int().min(0),
  command: z.string().min(1).max(64 * 1024),
  env: z.record(z.string(), z.string()),
  cwd: z.string().nullable(),
  maxOutputBytes: z.number().int().positive(),
  tailBytes: z.number().int().min(0),
  /**
   * §2 The job's secret variables, in the clear on this authenticated socket only: set in the
   * command's environment like `env` and masked in its output (each occurrence becomes `***`
   * before the chunk is numbered). Sent only to agents whose hello announced `secret_env`.
   */
  secretEnv: z.record(z.string(), z.string()).optional(),
});
export type ServerRun = z.infer<typeof ServerRun>;


/** §3 Output up to and including `seq` is durable: the agent may drop it from its buffer. */
export const ServerAck = z.object({ type: z.literal('ack'), v, jobId, seq });
export type ServerAck = z.infer<typeof ServerAck>;

/** §3 The exit is recorded: the agent forgets the job. */
export const ServerExitAck = z.object({ type: z.literal('exit_ack'), v, jobId });
export type ServerExitAck = z.infer<typeof ServerExitAck>;

/** §4 Cancel: SIGTERM to the process group, SIGKILL after `graceMs`. */
export const ServerCancel = z.object({ type: z.literal('cancel'), v, jobId, graceMs: z.number().int().min(0).max(3_600_000) });
export type ServerCancel = z.infer<typeof ServerCancel>;

/** §6 The job ended on the server while the agent was away: kill it, drop its output. */
export const ServerAbandon = z.object({ type: z.literal('abandon'), v, jobId });
export type ServerAbandon = z.infer<typeof ServerAbandon>;

export const ServerToAgent = z.discriminatedUnion('type', [
  ServerWelcome, ServerRun, ServerAck, ServerExitAck, ServerCancel, ServerAbandon,
  // SHELL.md §S5
  ServerShellOpen, ServerShellInput, ServerShellResize, ServerShellAck, ServerShellDetach,
]);
export type ServerToAgent = z.infer<typeof ServerToAgent>;
