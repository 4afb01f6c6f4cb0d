import { PROTOCOL_VERSION, type AgentHeartbeat } from '@vmo/shared/protocol';

/**
 * §5: `heartbeat {running}` every `welcome.heartbeatMs` while the connection is ready. The
 * server refreshes the agent's presence key (TTL two intervals) from these, so they must keep
 * coming even while output is flowing. Started per connection, stopped when it goes down.
 */
export function startHeartbeat(intervalMs: number, send: (msg: AgentHeartbeat) => void, running: () => number): { stop(): void } {
  const timer = setInterval(() => send({ type: 'heartbeat', v: PROTOCOL_VERSION, running: running() }), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
