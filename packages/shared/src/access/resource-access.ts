import type postgres from 'postgres';
import { deniedByPolicy } from '../audit/policy-denial.ts';
import { notFound } from '../errors/app-error.ts';
import type { PolicyAction } from '../domain/access.ts';
import type { JobRow } from '../jobs/job-view.ts';
import { rowToJob } from '../jobs/row-to-job.ts';
import type { Grants } from './grants.ts';
import { jobsCancelableBy, jobsReadableBy } from './job-access.ts';
import { runsCancelableBy, runsReadableBy } from './run-access.ts';
import { FORBIDDEN_TARGETS_NAMED, targetForbidden } from './target-forbidden.ts';
import { jobOnGrantedTargetSql } from './target-sql.ts';

export interface Access {
  /** May cancel it: the owner, or `cancel` granted on its target (a run: on every one of them). */
  cancel: boolean;
  /** What a 403 names: the job's target (an agent's name, a host's name@environment, `local`); a run's first children the caller may not cancel on. */
  targets: string[];
  /** How many targets are refused in all (a run may have thousands). */
  total: number;
}

const ADMIN_ACCESS: Access = Object.freeze({ cancel: true, targets: [], total: 0 });

/**
 * What the caller may do with one job, and the job itself, in one statement (none for an admin,
 * who may do everything: whether the job exists is then the route's own read, and its own 404).
 * A job the caller may not see is the same 404 as no job at all, so an id reveals nothing; it is
 * marked for the audit as a policy's denial.
 */
export async function jobAccess(sql: postgres.Sql, grants: Grants, jobId: string): Promise<Access & { job?: JobRow }> {
  if (grants.admin) return ADMIN_ACCESS;
  const [row] = await sql<{ access_visible: boolean; access_cancel: boolean; access_target: string }[]>`
    select j.*,
           ${jobsReadableBy(sql, grants)('j')} as access_visible,
           ${jobsCancelableBy(sql, grants)('j')} as access_cancel,
           coalesce(j.target_name,
                    (select a.name from agents a where a.id = j.agent_id),
                    (select h.name || '@' || h.environment from hosts h where h.id = j.host_id),
                    j.target->>'agent', j.target->>'host', j.target->>'type') as access_target
    from jobs j
    where j.id = ${jobId}`;
  if (!row) throw notFound('job', jobId);
  if (!row.access_visible) throw deniedByPolicy(notFound('job', jobId));
  return { cancel: row.access_cancel, targets: [row.access_target], total: 1, job: rowToJob(row) };
}

/** The same for a run (visible: run-access.ts). One statement; none for an admin. */
export async function runAccess(sql: postgres.Sql, grants: Grants, runId: string, opts: { forCancel?: boolean } = {}): Promise<Access> {
  if (grants.admin) return ADMIN_ACCESS;
  // The refused targets are looked for only when a cancel needs them for its 403.
  const outside = sql`from jobs c where c.run_id = r.id and not ${jobOnGrantedTargetSql(sql, grants.cancel, 'c')}`;
  const [row] = await sql<{ visible: boolean; cancel: boolean; targets: string[] | null; total: number | null }[]>`
    select ${runsReadableBy(sql, grants)('r')} as visible,
           ${runsCancelableBy(sql, grants)('r')} as cancel
           ${opts.forCancel
             ? sql`, (select array_agg(x.target_name order by x.run_index)
                      from (select c.target_name, c.run_index ${outside} order by c.run_index limit ${FORBIDDEN_TARGETS_NAMED}) x) as targets,
                    (select count(*)::int ${outside}) as total`
             : sql``}
    from runs r
    where r.id = ${runId}`;
  if (!row) throw notFound('run', runId);
  if (!row.visible) throw deniedByPolicy(notFound('run', runId));
  return { cancel: row.cancel, targets: row.targets ?? [], total: row.total ?? 0 };
}

/** 403 target_forbidden for an Access that does not allow `action`. */
export function assertAllowed(access: Access, action: Extract<PolicyAction, 'cancel'>): void {
  if (!access[action]) throw deniedByPolicy(targetForbidden(action, access.targets, access.total));
}
