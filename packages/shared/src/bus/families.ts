import type { z } from 'zod';
import type { Keys } from '../redis.ts';
import { AgentCommand } from './messages/agent-commands.ts';
import { ChangesMessage } from './messages/changes.ts';
import { ControlMessage } from './messages/control.ts';
import { JobEvent } from './messages/job-events.ts';
import { JobOutput, unpackJobOutput } from './messages/job-output.ts';
import { ShellEvent } from './messages/shell.ts';
import { OperationLogEvent } from './messages/operation-log.ts';

/** The version every message on the bus carries today (BUS.md §2), but job output's (§4: JOB_OUTPUT_VERSION). */
export const BUS_VERSION = 1;

/**
 * BUS.md §1: every channel family, its channel name (under the installation's prefix: redis.ts
 * `keys`) and the schema its messages are decoded with. One place, so a publisher and a
 * subscriber can never disagree on where a message goes or what it looks like.
 */
export const FAMILIES = {
  jobEvents: { channel: (k: Keys, jobId: string) => k.jobEventChannel(jobId), schema: JobEvent },
  // Binary (§4): unpacked from the raw bytes rather than parsed as JSON.
  jobOutput: { channel: (k: Keys, jobId: string) => k.jobOutputChannel(jobId), schema: JobOutput, unpack: unpackJobOutput },
  agentCommands: { channel: (k: Keys, agentId: string) => k.agentChannel(agentId), schema: AgentCommand },
  control: { channel: (k: Keys, _id: string) => k.controlChannel, schema: ControlMessage },
  changes: { channel: (k: Keys, _id: string) => k.changesChannel, schema: ChangesMessage },
  shell: { channel: (k: Keys, sessionId: string) => k.shellChannel(sessionId), schema: ShellEvent },
  operationLog: { channel: (k: Keys, operationId: string) => k.operationLogChannel(operationId), schema: OperationLogEvent },
} as const;

export type Family = keyof typeof FAMILIES;
export type MessageOf<F extends Family> = z.infer<(typeof FAMILIES)[F]['schema']>;

/** A message as a publisher writes it: everything but the version, which the bus adds. */
export type Unversioned<M> = M extends unknown ? Omit<M, 'v'> : never;

/**
 * Decode one raw message of a family: JSON (or the family's own unpacking), then the family's
 * schema. Undefined for anything else (another version, a foreign message): the receiver drops
 * it, as if pub/sub had lost it (§7).
 */
export function decode<F extends Family>(family: F, raw: Buffer | string): MessageOf<F> | undefined {
  const def: object = FAMILIES[family];
  const unpack = 'unpack' in def ? (def.unpack as (raw: Buffer) => unknown) : undefined;
  let parsed: unknown;
  try {
    parsed = unpack ? unpack(typeof raw === 'string' ? Buffer.from(raw) : raw) : JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const result = FAMILIES[family].schema.safeParse(parsed);
  return result.success ? (result.data as MessageOf<F>) : undefined;
}
