import { and, eq, isNull, or } from 'drizzle-orm';
import type { RowFilter } from '../access/row-filter.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { agents } from '../db/schema/agents.ts';
import type { JobStatus } from '../domain/job-status.ts';
import type { LabelSelector } from '../domain/label-selector.ts';
import { AppError } from '../errors/app-error.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import type { JobView } from './job-view.ts';
import { listJobs } from './queries/list-jobs.ts';

/** GET /v1/jobs's filters as the API reads them (names still to resolve). */
export interface FindJobsFilters {
  status?: readonly JobStatus[];
  /** An agent id or name. */
  agent?: string;
  /** An agent id or name, or a host id, name or name@environment. */
  target?: string;
  /** `?label=k=v`, each must match exactly. */
  label?: readonly { key: string; value: string }[];
  /** `?labels=<selector>`. */
  labels?: LabelSelector;
  /** A run id: its children. */
  run?: string;
  /** A user id or name: the jobs they submitted (owner_id, so a renamed user's older jobs too). */
  createdBy?: string;
  limit: number;
  cursor?: string;
  /**
   * The caller's access (@vmo/shared/access): the jobs they may see, the runs (a run they may not
   * see is no run) and the agents and hosts, by their labels (one they may not read is nobody,
   * as GET /v1/agents/{id} answers). All when absent. `userId` is the caller's own (null: no
   * user), who may always filter on themselves.
   */
  visibleTo?: {
    jobs: RowFilter;
    runs: RowFilter;
    machine: (labels: Readonly<Record<string, string>>) => boolean;
    agent: (registeredLabels: Readonly<Record<string, string>>) => boolean;
    userId?: string | null;
  };
}

/**
 * List jobs by the filters a person types: names are resolved first, and a name that is nobody's
 * is a 422 (as on submission) rather than an empty page that looks like "no jobs". An agent id is
 * taken even when revoked (its jobs stay findable); a name means a live agent, as on submission.
 */
export async function findJobs(cp: ControlPlane, f: FindJobsFilters): Promise<{ items: JobView[]; nextCursor: string | null }> {
  let agentId: string | undefined;
  if (f.agent !== undefined) {
    agentId = (await agentIdFor(cp, f.agent, f.visibleTo?.agent)) ?? throwUnknownAgent(f.agent);
  }
  let target: { agentIds: string[]; hostIds: string[] } | undefined;
  if (f.target !== undefined) {
    const [agent, found] = await Promise.all([agentIdFor(cp, f.target, f.visibleTo?.agent), resolveHost(cp.database.db, f.target)]);
    const host = found && (!f.visibleTo || f.visibleTo.machine(found.labels)) ? found : undefined;
    if (!agent && !host) throw new AppError(422, 'unknown_target', `target: no agent or host with id or name ${JSON.stringify(f.target)}; see GET /v1/agents and GET /v1/hosts`);
    target = { agentIds: agent ? [agent] : [], hostIds: host ? [host.id] : [] };
  }
  if (f.run !== undefined) {
    const sql = cp.database.sql;
    const [run] = await sql`select r.id from runs r where r.id = ${f.run} ${f.visibleTo ? sql`and ${f.visibleTo.runs('r')}` : sql``}`;
    if (!run) throw new AppError(422, 'unknown_run', `run: no run with id ${JSON.stringify(f.run)}; see GET /v1/runs`);
  }
  const ownerId = f.createdBy === undefined ? undefined : ((await creatorIdFor(cp, f.createdBy, f.visibleTo)) ?? throwUnknownUser(f.createdBy));
  const labels: LabelSelector = [...(f.label ?? []).map(({ key, value }) => ({ key, operator: '=' as const, values: [value] })), ...(f.labels ?? [])];
  return listJobs(cp, {
    ...(f.status ? { status: f.status } : {}),
    ...(agentId ? { agentId } : {}),
    ...(target ? { target } : {}),
    ...(labels.length > 0 ? { labels } : {}),
    ...(f.run !== undefined ? { runId: f.run } : {}),
    ...(ownerId !== undefined ? { ownerId } : {}),
    limit: f.limit,
    ...(f.cursor ? { cursor: f.cursor } : {}),
    ...(f.visibleTo ? { visibleTo: f.visibleTo.jobs } : {}),
  });
}

/** An agent by id (revoked or not) or by the name of a live agent; one `readable` refuses (by its merged labels) is none. */
async function agentIdFor(cp: ControlPlane, ref: string, readable?: (labels: Readonly<Record<string, string>>) => boolean): Promise<string | undefined> {
  const [row] = await cp.database.db
    .select({ id: agents.id, labels: agents.labels })
    .from(agents)
    .where(or(eq(agents.id, ref), and(eq(agents.name, ref), isNull(agents.revokedAt))))
    .limit(1);
  // Registered labels only: what an agent reports about itself decides no access (@vmo/shared/access).
  if (row && readable && !readable(row.labels)) return undefined;
  return row?.id;
}

/**
 * A user by id or name. Users are listed to admins only (GET /v1/users), so to anyone else a user
 * is somebody only when it is themselves or has submitted a job they may see (whose name the list
 * shows them anyway): any other answer would tell them which names exist. The check is one seek on
 * jobs_owner_created_idx, stopping at the first visible job.
 */
async function creatorIdFor(cp: ControlPlane, ref: string, visibleTo: FindJobsFilters['visibleTo']): Promise<string | undefined> {
  const sql = cp.database.sql;
  const [row] = await sql`
    select u.id from users u
    where (u.id = ${ref} or u.name = ${ref})
      ${visibleTo ? sql`and (coalesce(u.id = ${visibleTo.userId ?? null}, false) or exists (select 1 from jobs j where j.owner_id = u.id and ${visibleTo.jobs('j')}))` : sql``}
    limit 1`;
  return row?.id as string | undefined;
}

function throwUnknownUser(ref: string): never {
  throw new AppError(422, 'unknown_user', `createdBy: no user with id or name ${JSON.stringify(ref)}; see GET /v1/users`, { field: 'createdBy' });
}

function throwUnknownAgent(ref: string): never {
  throw new AppError(422, 'unknown_agent', `agent: no agent with id or name ${JSON.stringify(ref)}; see GET /v1/agents`);
}
