import { assertMayRunJob } from '../access/may-run.ts';
import type { Grants } from '../access/grants.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { newId } from '../domain/ids.ts';
import { AppError } from '../errors/app-error.ts';
import { mayReadProject, projectNotFound, projectsReadableSql, visibleProject } from './project-access.ts';
import type { ProjectInput, ProjectPatch } from './project-input.ts';
import { resolveProjectMachine } from './project-machine.ts';
import { projectJobTarget, projectRows, type ProjectRow } from './project-row.ts';
import { projectView, type ProjectView } from './project-view.ts';

/** Who acts: their grants (authorization), their name (a job's createdBy) and user id (its owner). */
export interface ProjectActor {
  grants: Grants;
  name: string;
  userId: string | null;
}

export async function projectByAlias(cp: ControlPlane, alias: string): Promise<ProjectRow | undefined> {
  const sql = cp.database.sql;
  const [row] = await projectRows(sql, sql`p.alias = ${alias}`);
  return row;
}

/** The project, when the caller may read its machine; else the 404 of none. */
export async function getProject(cp: ControlPlane, alias: string, grants: Grants): Promise<ProjectRow> {
  return visibleProject(grants, alias, await projectByAlias(cp, alias));
}

/**
 * POST /v1/projects. Adding a project is a way to run make there, so it takes `run` on the
 * machine, judged as POST /v1/jobs judges a job for that target (403 target_forbidden, or the 422
 * of a machine that does not exist for one the caller may not read). The alias is unique across
 * the control plane: 409 project_exists.
 */
export async function createProject(cp: ControlPlane, input: ProjectInput, actor: ProjectActor): Promise<ProjectView> {
  const judged = await assertMayRunJob(cp, actor.grants, input.target);
  const machine = await resolveProjectMachine(cp, input.target, judged);
  const sql = cp.database.sql;
  const inserted = await sql`
    insert into projects (id, alias, dir, target_kind, agent_id, host_id, list_command, created_by, owner_id)
    values (${newId('prj')}, ${input.alias}, ${input.dir}, ${machine.kind}, ${machine.agentId}, ${machine.hostId}, ${input.listCommand ?? null}, ${actor.name}, ${actor.userId})
    on conflict (alias) do nothing
    returning id`;
  if (inserted.length === 0) {
    // Issue 11: the alias is unique across the control plane, so "taken" is all a caller who may
    // not read the other project's machine learns: not where, nor that they could PATCH it.
    const other = await projectByAlias(cp, input.alias);
    if (other && !mayReadProject(actor.grants, other)) throw new AppError(409, 'project_exists', `alias: ${JSON.stringify(input.alias)} is taken; choose another alias`, { field: 'alias' });
    throw new AppError(409, 'project_exists', `alias: a project ${JSON.stringify(input.alias)} exists; choose another alias, or change it with PATCH /v1/projects/${input.alias}`, { field: 'alias' });
  }
  return projectView((await projectByAlias(cp, input.alias))!);
}

/** GET /v1/projects: those on machines the caller may read, by alias; keyset on the alias. */
export async function listProjects(cp: ControlPlane, grants: Grants, q: { limit: number; cursor?: string | undefined }): Promise<{ items: ProjectView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const rows = await projectRows(sql, sql`${projectsReadableSql(sql, grants)} ${q.cursor === undefined ? sql`` : sql`and p.alias > ${q.cursor}`}`, sql`order by p.alias limit ${q.limit + 1}`);
  const items = rows.slice(0, q.limit).map(projectView);
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.alias : null };
}

/** The row, once the caller may act on it: read (else 404), then `run` on its machine (else 403 naming it). */
export async function projectToActOn(cp: ControlPlane, alias: string, actor: ProjectActor): Promise<{ row: ProjectRow; hostId?: string }> {
  const row = await getProject(cp, alias, actor.grants);
  const judged = await assertMayRunJob(cp, actor.grants, projectJobTarget(row));
  return { row, ...(judged.hostId !== undefined ? { hostId: judged.hostId } : {}) };
}

/**
 * PATCH /v1/projects/{alias}: its directory and list command. Either one changing forgets the
 * targets found (they were another directory's, or another command's).
 */
export async function updateProject(cp: ControlPlane, alias: string, patch: ProjectPatch, actor: ProjectActor): Promise<ProjectView> {
  const { row } = await projectToActOn(cp, alias, actor);
  const dir = patch.dir ?? row.dir;
  const listCommand = patch.listCommand === undefined ? row.list_command : patch.listCommand;
  const sql = cp.database.sql;
  if (dir !== row.dir || listCommand !== row.list_command) {
    await sql`
      update projects set dir = ${dir}, list_command = ${listCommand}, targets = null, default_goal = null,
             discovery_source = null, discovered_at = null, discovery_job_id = null, updated_at = now()
      where id = ${row.id}`;
  }
  const after = await projectByAlias(cp, alias);
  if (!after) throw projectNotFound(alias);
  return projectView(after);
}

/** DELETE /v1/projects/{alias}. Its jobs stay. */
export async function deleteProject(cp: ControlPlane, alias: string, actor: ProjectActor): Promise<void> {
  const { row } = await projectToActOn(cp, alias, actor);
  await cp.database.sql`delete from projects where id = ${row.id}`;
}
