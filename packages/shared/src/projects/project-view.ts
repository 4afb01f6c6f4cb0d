import type { DiscoverySource } from '../domain/make-target.ts';
import type { JobTarget } from '../domain/job-target.ts';
import { machineName, type ProjectRow } from './project-row.ts';

export interface ProjectView {
  id: string;
  alias: string;
  dir: string;
  /** Where it lives, by name (an agent's name, a host's name@environment). */
  target: JobTarget;
  /** The agent's or host's id; null for `local`. */
  machineId: string | null;
  listCommand: string | null;
  /** How many targets the last discovery found; null until one succeeded. */
  targetCount: number | null;
  defaultGoal: string | null;
  discoverySource: DiscoverySource | null;
  discoveredAt: string | null;
  discoveryJobId: string | null;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (d: Date | string) => new Date(d).toISOString();

export function projectView(row: ProjectRow): ProjectView {
  const name = machineName(row);
  const target: JobTarget = row.target_kind === 'agent' ? { type: 'agent', agent: name } : row.target_kind === 'ssh' ? { type: 'ssh', host: name } : { type: 'local' };
  return {
    id: row.id,
    alias: row.alias,
    dir: row.dir,
    target,
    machineId: row.agent_id ?? row.host_id,
    listCommand: row.list_command,
    targetCount: row.targets?.length ?? null,
    defaultGoal: row.default_goal,
    discoverySource: row.discovery_source,
    discoveredAt: row.discovered_at === null ? null : iso(row.discovered_at),
    discoveryJobId: row.discovery_job_id,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
