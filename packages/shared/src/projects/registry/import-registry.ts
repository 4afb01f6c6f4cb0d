import { assertMayRunJob } from '../../access/may-run.ts';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { newId } from '../../domain/ids.ts';
import type { RegistryImportInput } from '../project-input.ts';
import { resolveProjectMachine } from '../project-machine.ts';
import { mayReadProject } from '../project-access.ts';
import { projectRows } from '../project-row.ts';
import type { ProjectActor } from '../project-service.ts';
import { projectView, type ProjectView } from '../project-view.ts';
import { parseRegistry, type RegistrySkip } from './parse-registry.ts';

export interface RegistryImportResult {
  created: ProjectView[];
  updated: ProjectView[];
  /** Aliases already on that machine with that directory. */
  unchanged: ProjectView[];
  skipped: RegistrySkip[];
}

/**
 * POST /v1/projects/import: one project per `alias=directory` line of an mkcli-style registry,
 * on one machine (`target`), as the SSH-config import does for hosts. Takes `run` on that machine
 * (as adding one project does). An alias that exists on the same machine takes the new directory
 * (its targets forgotten if it moved); one that exists on another machine is skipped, never moved.
 * All or nothing: one transaction. Bad lines are skipped with their number and why.
 */
export async function importRegistry(cp: ControlPlane, input: RegistryImportInput, actor: ProjectActor): Promise<RegistryImportResult> {
  const judged = await assertMayRunJob(cp, actor.grants, input.target);
  const machine = await resolveProjectMachine(cp, input.target, judged);
  const { entries, skipped } = parseRegistry(input.registry);
  const result: RegistryImportResult = { created: [], updated: [], unchanged: [], skipped };
  if (entries.length === 0) return result;
  const aliases = entries.map((e) => e.alias);
  const outcome = new Map<string, 'created' | 'updated' | 'unchanged'>();
  /** Aliases that are projects on another machine: skipped, and described only to who may read that machine. */
  const elsewhere: typeof entries = [];
  await cp.database.sql.begin(async (tx) => {
    // Locked first: a concurrent import or PATCH of the same aliases waits for this one.
    const existing = await tx<{ alias: string; dir: string; target_kind: string; agent_id: string | null; host_id: string | null }[]>`
      select alias, dir, target_kind, agent_id, host_id from projects where alias = any(${aliases}) for update`;
    const byAlias = new Map(existing.map((r) => [r.alias, r]));
    const toInsert = entries.filter((e) => !byAlias.has(e.alias));
    const toUpdate: typeof entries = [];
    for (const e of entries) {
      const row = byAlias.get(e.alias);
      if (!row) continue;
      const sameMachine = row.target_kind === machine.kind && row.agent_id === machine.agentId && row.host_id === machine.hostId;
      if (!sameMachine) elsewhere.push(e);
      else if (row.dir === e.dir) outcome.set(e.alias, 'unchanged');
      else toUpdate.push(e);
    }
    if (toInsert.length > 0) {
      const inserted = await tx<{ alias: string }[]>`
        insert into projects (id, alias, dir, target_kind, agent_id, host_id, created_by, owner_id)
        select id, alias, dir, ${machine.kind}, ${machine.agentId}, ${machine.hostId}, ${actor.name}, ${actor.userId}
        from unnest(${toInsert.map(() => newId('prj'))}::text[], ${toInsert.map((e) => e.alias)}::text[], ${toInsert.map((e) => e.dir)}::text[]) as t(id, alias, dir)
        on conflict (alias) do nothing
        returning alias`;
      for (const r of inserted) outcome.set(r.alias, 'created');
      // An alias inserted meanwhile by someone else (after our read): report it rather than guess.
      for (const e of toInsert) if (!outcome.has(e.alias)) skipped.push({ alias: e.alias, line: e.line, reason: 'the alias was added meanwhile; import again' });
    }
    if (toUpdate.length > 0) {
      const updated = await tx<{ alias: string }[]>`
        update projects p set dir = t.dir, targets = null, default_goal = null, discovery_source = null,
               discovered_at = null, discovery_job_id = null, updated_at = now()
        from unnest(${toUpdate.map((e) => e.alias)}::text[], ${toUpdate.map((e) => e.dir)}::text[]) as t(alias, dir)
        where p.alias = t.alias
        returning p.alias`;
      for (const r of updated) outcome.set(r.alias, 'updated');
    }
  });
  const sql = cp.database.sql;
  if (elsewhere.length > 0) {
    const others = new Map((await projectRows(sql, sql`p.alias = any(${elsewhere.map((e) => e.alias)})`)).map((r) => [r.alias, r]));
    for (const e of elsewhere) {
      const other = others.get(e.alias);
      // Issue 11: a project on a machine the caller may not read is nobody's business: only "taken".
      const reason = other && mayReadProject(actor.grants, other) ? 'the alias is a project on another machine (delete it there first)' : 'the alias is taken; choose another';
      skipped.push({ alias: e.alias, line: e.line, reason });
    }
  }
  skipped.sort((a, b) => a.line - b.line);
  const rows = new Map((await projectRows(sql, sql`p.alias = any(${[...outcome.keys()]})`)).map((r) => [r.alias, r]));
  for (const e of entries) {
    const kind = outcome.get(e.alias);
    const row = rows.get(e.alias);
    if (kind && row) result[kind].push(projectView(row));
  }
  // Every project answered is on the caller's machine, which they may run on (so read); a skipped
  // alias on another machine is described only to who may read it (above).
  return result;
}
