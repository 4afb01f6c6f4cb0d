/**
 * The target whose `max_concurrent_jobs` gates a job: its agent, or its SSH host. A local job has
 * none (it runs on the worker, whose VMO_WORKER_CONCURRENCY is its limit).
 */
export interface GateTarget {
  kind: 'agent' | 'ssh';
  id: string;
}

export function gateTargetOf(job: { agentId: string | null; hostId: string | null }): GateTarget | undefined {
  if (job.agentId) return { kind: 'agent', id: job.agentId };
  if (job.hostId) return { kind: 'ssh', id: job.hostId };
  return undefined;
}

/** The jobs column naming the target, and the table holding its limit. */
export function gateColumns(target: GateTarget): { column: 'agent_id' | 'host_id'; table: 'agents' | 'hosts' } {
  return target.kind === 'agent' ? { column: 'agent_id', table: 'agents' } : { column: 'host_id', table: 'hosts' };
}

/**
 * The transaction-level advisory lock every gated start of one target takes (hashed to a bigint:
 * `pg_advisory_xact_lock(hashtextextended(key, 0))`). Ids are prefixed by kind (`agt_`, `host_`),
 * so an agent and a host never share a key.
 */
export const gateLockKey = (target: GateTarget): string => `target:${target.id}`;
