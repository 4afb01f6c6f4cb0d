import type postgres from 'postgres';
import type { DiscoverySource, MakeTarget, ProjectTargetKind } from '../domain/make-target.ts';
import type { JobTarget } from '../domain/job-target.ts';

/** A project with the machine it lives on, as `projectRows` reads it. */
export interface ProjectRow {
  id: string;
  alias: string;
  dir: string;
  target_kind: ProjectTargetKind;
  agent_id: string | null;
  host_id: string | null;
  list_command: string | null;
  targets: MakeTarget[] | null;
  default_goal: string | null;
  discovery_source: DiscoverySource | null;
  discovered_at: Date | null;
  discovery_job_id: string | null;
  created_by: string | null;
  owner_id: string | null;
  created_at: Date;
  updated_at: Date;
  /** The agent's name and REGISTERED labels (what authorization judges), when on an agent. */
  agent_name: string | null;
  agent_labels: Record<string, string> | null;
  host_name: string | null;
  host_environment: string | null;
  host_labels: Record<string, string> | null;
}

/** Every project column, and its machine's name and labels. `where` is over `p`, `a` (agents) and `h` (hosts). */
export function projectRows(sql: postgres.Sql, where: postgres.Fragment, tail: postgres.Fragment = sql``): Promise<ProjectRow[]> {
  return sql<ProjectRow[]>`
    select p.*, a.name as agent_name, a.labels as agent_labels,
           h.name as host_name, h.environment as host_environment, h.labels as host_labels
    from projects p
    left join agents a on a.id = p.agent_id
    left join hosts h on h.id = p.host_id
    where ${where}
    ${tail}`;
}

/** The project's machine as a job target, by id: what its discovery and run jobs are submitted to. */
export function projectJobTarget(row: Pick<ProjectRow, 'target_kind' | 'agent_id' | 'host_id'>): JobTarget {
  if (row.target_kind === 'agent') return { type: 'agent', agent: row.agent_id! };
  if (row.target_kind === 'ssh') return { type: 'ssh', host: row.host_id! };
  return { type: 'local' };
}

/** The machine's name as people and 403s say it: an agent's name, `host@environment`, `local`. */
export function machineName(row: Pick<ProjectRow, 'target_kind' | 'agent_name' | 'host_name' | 'host_environment'>): string {
  if (row.target_kind === 'agent') return row.agent_name ?? '?';
  if (row.target_kind === 'ssh') return `${row.host_name}@${row.host_environment}`;
  return 'local';
}
