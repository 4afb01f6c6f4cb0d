import type postgres from 'postgres';
import { agentsReadableBy, hostsReadableBy, mayReadAgent, mayReadMachine } from '../access/inventory-access.ts';
import type { Grants } from '../access/grants.ts';
import { deniedByPolicy } from '../audit/policy-denial.ts';
import { notFound } from '../errors/app-error.ts';
import type { ProjectRow } from './project-row.ts';

/*
 * A project is seen by whoever may read its machine (issue 11's `read`, which `run` and `cancel`
 * imply): an agent by its registered labels (the built-in agent by `local`), a host by its labels,
 * the `local` target by `local`. To anyone else it is the 404 of a project that does not exist.
 * Acting on it (discovering, running, changing, deleting) takes `run` on the machine, judged by
 * access/may-run.ts assertMayRunJob exactly as POST /v1/jobs judges a job there.
 */

export function mayReadProject(grants: Grants, row: ProjectRow): boolean {
  if (grants.admin) return true;
  if (row.target_kind === 'agent') return row.agent_labels !== null && mayReadAgent(grants, row.agent_labels);
  if (row.target_kind === 'ssh') return row.host_labels !== null && mayReadMachine(grants, row.host_labels);
  return grants.read.local;
}

/** The same over `projectRows`' aliases (p, a, h), for listings. Never null. */
export function projectsReadableSql(sql: postgres.Sql, grants: Grants): postgres.Fragment {
  if (grants.admin) return sql`true`;
  return sql`(case p.target_kind
    when 'agent' then coalesce(${agentsReadableBy(sql, grants)('a')}, false)
    when 'ssh' then coalesce(${hostsReadableBy(sql, grants)('h')}, false)
    else ${grants.read.local} end)`;
}

export const projectNotFound = (alias: string) => notFound('project', alias);

/** The project row once the caller may see it; the same 404 for a hidden one as for none (marked for the audit). */
export function visibleProject(grants: Grants, alias: string, row: ProjectRow | undefined): ProjectRow {
  if (!row) throw projectNotFound(alias);
  if (!mayReadProject(grants, row)) throw deniedByPolicy(projectNotFound(alias));
  return row;
}
