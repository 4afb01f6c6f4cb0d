import type { Keys, RedisClient } from '../redis.ts';
import { BUS_VERSION, FAMILIES, type Unversioned, type Family, type MessageOf } from './families.ts';
import type { AgentCommand } from './messages/agent-commands.ts';
import type { ChangeTopic } from './messages/changes.ts';
import type { ControlMessage } from './messages/control.ts';
import type { JobEvent } from './messages/job-events.ts';
import { encodeJobOutput, type OutputChunk } from './messages/job-output.ts';
import type { ShellEvent } from './messages/shell.ts';
import type { OperationLogEvent } from './messages/operation-log.ts';

/** What a publisher needs: a connection for commands (never one in subscriber mode) and the names. */
export interface BusConnection {
  redis: RedisClient;
  keys: Keys;
}

/**
 * Publish one message (BUS.md §2). Best effort: resolves `true` once Redis took it, `false` when
 * Redis did not (unreachable, no offline queue); it never rejects. A message Redis did not take is
 * the same as one pub/sub lost, and every consumer recovers from those (§7). A caller that must
 * know (the gateway's takeover) looks at the answer.
 *
 * Not validated on the way out: the types say what may be sent, and the hot path (output) must
 * not pay for a parse it does not need; the receiver validates.
 */
async function publish<F extends Family>(bus: BusConnection, family: F, id: string, body: Unversioned<MessageOf<F>>): Promise<boolean> {
  const channel = FAMILIES[family].channel(bus.keys, id);
  return bus.redis.publish(channel, JSON.stringify({ v: BUS_VERSION, ...body })).then(
    () => true,
    () => false,
  );
}

/** §3: an event of a job. Status and end events come from the lifecycle module only. */
export const publishJobEvent = (bus: BusConnection, jobId: string, event: Unversioned<JobEvent>) => publish(bus, 'jobEvents', jobId, event);

/** §4: chunks the log sink has made durable, in their binary form (messages/job-output.ts). Best effort, as publish(). */
export function publishJobOutput(bus: BusConnection, jobId: string, chunks: OutputChunk[]): Promise<boolean> {
  return bus.redis.publish(FAMILIES.jobOutput.channel(bus.keys, jobId), encodeJobOutput(chunks)).then(
    () => true,
    () => false,
  );
}

/** §5: a command for the node holding an agent's socket. */
export const publishAgentCommand = (bus: BusConnection, agentId: string, command: Unversioned<AgentCommand>) => publish(bus, 'agentCommands', agentId, command);

/** §6: a broadcast to every worker (a stop) and every API node (access_changed). */
export const publishControl = (bus: BusConnection, message: Unversioned<ControlMessage>) => publish(bus, 'control', '', message);

/** §10: what changed, for dashboards. Publish through a ChangeNotifier (markChanged), which coalesces. */
export const publishChanges = (bus: BusConnection, topics: ChangeTopic[]) => publish(bus, 'changes', '', { type: 'changed', topics });

/** §11: what the agent said about a shell session, for every node with a client attached (SHELL.md §S5). */
export const publishShellEvent = (bus: BusConnection, sessionId: string, event: Unversioned<ShellEvent>) => publish(bus, 'shell', sessionId, event);

/** §12: a workspace operation's log line (after its row is durable) or its end (issue 18). */
export const publishOperationLog = (bus: BusConnection, operationId: string, event: Unversioned<OperationLogEvent>) => publish(bus, 'operationLog', operationId, event);
