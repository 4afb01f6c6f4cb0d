import type postgres from 'postgres';
import { markChanged } from '../bus/change-notifier.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { isId, newId } from '../domain/ids.ts';
import { WORKSPACE_LABEL, workspaceAgentLabels } from '../domain/workspace-agent-labels.ts';
import type { OperationType, WorkspaceStatus } from '../domain/workspace.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import { agentsPresence } from '../presence/agent-presence.ts';
import { revokeAgent } from '../agents/agent-service.ts';
import { deniedByPolicy } from '../audit/policy-denial.ts';
import { scheduleClock } from '../schedules/cron.ts';
import { generateToken, hashToken } from '../tokens.ts';
import { requestOperation, type RequestedOperation } from './request-operation.ts';
import type { TemplateParamDefinition } from './template-input.ts';
import { findTemplate } from './template-service.ts';
import type { CreateWorkspaceInput, UpdateWorkspaceInput } from './workspace-input.ts';
import { STATUS_SQL, WORKSPACE_COLUMNS, workspaceView, type WorkspaceView } from './workspace-view.ts';
import { iso } from './iso-time.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

/** The driver hands raw timestamps over as text (`2026-03-29 01:00:00+00`): answered as ISO 8601. */

/** Who acts: a person (null userId: the bootstrap admin). */
export interface WorkspaceActor {
  userId: string | null;
  name: string;
  admin: boolean;
}

/** The agent of a workspace: unique among live agents (workspace names are unique per owner only). */
export const workspaceAgentName = (workspaceName: string, workspaceId: string): string => `ws-${workspaceName}-${workspaceId.slice(-6)}`;

/**
 * The workspace's parameter values: the template's defaults under what is given. A name the
 * template does not declare, or a required one with neither a value nor a default, is 400
 * `invalid_param` naming it (details.param, details.field `params.<name>`).
 */
export function resolveParams(defs: readonly TemplateParamDefinition[], given: Record<string, string>): Record<string, string> {
  const byName = new Map(defs.map((d) => [d.name, d]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) {
      const known = defs.map((d) => d.name);
      throw badRequest('invalid_param', `params.${name}: the template declares no parameter ${JSON.stringify(name)}${known.length ? ` (it declares: ${known.join(', ')})` : ' (it declares none)'}`, { param: name, field: `params.${name}` });
    }
  }
  const values: Record<string, string> = {};
  for (const d of defs) {
    const v = given[d.name] ?? d.default;
    if (v === undefined) {
      if (d.required) throw badRequest('invalid_param', `params.${d.name}: is required by the template${d.description ? ` (${d.description})` : ''}`, { param: d.name, field: `params.${d.name}` });
      continue;
    }
    values[d.name] = v;
  }
  return values;
}

/** The autostart schedule checked (400 naming autostartSchedule.cron / .timezone) and its next tick. */
function autostartOf(s: { cron: string; timezone: string } | null | undefined, now: Date): { cron: string | null; timezone: string; nextAt: Date | null } {
  if (!s) return { cron: null, timezone: 'UTC', nextAt: null };
  try {
    return { cron: s.cron.trim(), timezone: s.timezone, nextAt: scheduleClock(s.cron, s.timezone).nextAfter(now) };
  } catch (err) {
    if (err instanceof AppError && typeof err.details?.field === 'string') {
      const field = `autostartSchedule.${err.details.field}`;
      throw badRequest('validation_failed', `autostartSchedule.${err.message}`, { field });
    }
    throw err;
  }
}

const nameTaken = (name: string) =>
  new AppError(409, 'workspace_exists', `name: you already have a workspace named ${JSON.stringify(name)}; choose another name`, { field: 'name' });

async function dbNow(sql: Sql): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`select clock_timestamp() as now`;
  return new Date(row!.now);
}

/**
 * POST /v1/workspaces: in ONE transaction the workspace row (its owner the caller, built from the
 * template's current version), its agent (the reserved labels only: workspace=<name>, workspace-id=<id>,
 * workspace-owner=<owner>, never the user's labels, which stay on the workspace; a token nobody holds: the engine gives it a fresh one at each start) and its `create` operation,
 * pending for the engine. LOUD: all three or none: a workspace without its agent or its operation
 * would never start, and nothing else creates them.
 */
export async function createWorkspace(
  cp: ControlPlane,
  input: CreateWorkspaceInput,
  actor: WorkspaceActor,
  /** Built from this snapshot (POST …/snapshots/{sid}/restore into a new workspace): its create operation restores it before it starts. */
  opts: { fromSnapshotId?: string } = {},
): Promise<{ workspace: WorkspaceView; operation: RequestedOperation }> {
  const sql = cp.database.sql;
  let template;
  try {
    template = await findTemplate(sql, input.template);
  } catch (err) {
    if (err instanceof AppError && err.code === 'not_found') {
      throw badRequest('validation_failed', `template: no template with id or name ${JSON.stringify(input.template)}; see GET /v1/templates`, { field: 'template' });
    }
    throw err;
  }
  const params = resolveParams(template.params, input.params);
  const now = await dbNow(sql);
  const autostart = autostartOf(input.autostartSchedule, now);
  const id = newId('wks');
  const agentId = newId('agt');
  // LOUD: the user's labels never reach the agent row (domain/workspace-agent-labels.ts says why).
  const agentLabels = workspaceAgentLabels(id, input.name, actor.userId);
  let operation: RequestedOperation;
  try {
    operation = await sql.begin(async (tx) => {
      await tx`
        insert into agents (id, name, labels, token_hash)
        values (${agentId}, ${workspaceAgentName(input.name, id)}, ${JSON.stringify(agentLabels)}::jsonb, ${hashToken(generateToken('agent'))})`;
      await tx`
        insert into workspaces (id, name, owner_id, owner_name, template_id, template_version, params, labels, ttl_ms, idle_timeout_ms,
          autostart_cron, autostart_timezone, autostart_next_at, agent_id)
        values (${id}, ${input.name}, ${actor.userId}, ${actor.name}, ${template.id}, ${template.currentVersion}, ${JSON.stringify(params)}::jsonb,
          ${JSON.stringify(input.labels)}::jsonb, ${input.ttlMs ?? null}, ${input.idleTimeoutMs ?? null}, ${autostart.cron}, ${autostart.timezone},
          ${autostart.nextAt?.toISOString() ?? null}::timestamptz, ${agentId})`;
      // The columns requestOperation writes; a first operation needs no transition check.
      const [op] = await tx<RequestedOperation[]>`
        insert into workspace_operations (id, workspace_id, type, reason, actor_id, actor_name, input, template_version)
        values (${newId('wop')}, ${id}, 'create', 'user', ${actor.userId}, ${actor.name},
                ${JSON.stringify(opts.fromSnapshotId ? { snapshotId: opts.fromSnapshotId } : {})}::jsonb, ${template.currentVersion})
        returning id, workspace_id as "workspaceId", type, status, reason, created_at as "createdAt"`;
      return op!;
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(input.name);
    throw err;
  }
  markChanged(cp, 'agents'); // dashboards (BUS.md §10)
  return { workspace: await getWorkspace(cp, id), operation: { ...operation, createdAt: iso(operation.createdAt) } }; // inserted here, not by requestOperation (which answers ISO itself)
}

/** A workspace row's id from an id or a name, and whether the actor may see it (the owner or an admin; 404 otherwise, audited as a denial). */
export async function findWorkspaceId(sql: Sql, ref: string, actor: WorkspaceActor): Promise<{ id: string; ownerId: string | null; hidden: boolean } | undefined> {
  let rows: { id: string; owner_id: string | null }[];
  if (isId('wks', ref)) {
    rows = await sql`select id, owner_id from workspaces where id = ${ref}`;
  } else {
    // A name: the caller's own live one; for an admin, else the one live workspace of that name
    // (several owners' of that name: name it by id). Someone else's is found only to be hidden.
    const named = await sql<{ id: string; owner_id: string | null }[]>`
      select id, owner_id from workspaces where name = ${ref} and deleted_at is null
      order by (owner_id is not distinct from ${actor.userId}) desc, created_at desc limit 2`;
    const own = named.filter((r) => r.owner_id === actor.userId);
    rows = own.length > 0 ? own : actor.admin ? (named.length === 1 ? named : []) : named.slice(0, 1);
  }
  const row = rows[0];
  if (!row) return undefined;
  return { id: row.id, ownerId: row.owner_id, hidden: !actor.admin && row.owner_id !== actor.userId };
}

/** GET /v1/workspaces/{id} (the route checked who may). */
export async function getWorkspace(cp: ControlPlane, id: string): Promise<WorkspaceView> {
  const sql = cp.database.sql;
  const [row] = await sql`select ${WORKSPACE_COLUMNS(sql)} where w.id = ${id}`;
  if (!row) throw notFound('workspace', id);
  return (await decorate(cp, [row]))[0]!;
}

async function decorate(cp: ControlPlane, rows: postgres.Row[]): Promise<WorkspaceView[]> {
  if (rows.length === 0) return [];
  const agentIds = rows.map((r) => r.agent_id as string | null).filter((a): a is string => a !== null);
  const [presence, now] = await Promise.all([agentsPresence(cp, agentIds), dbNow(cp.database.sql)]);
  const byAgent = new Map(agentIds.map((a, i) => [a, presence[i]!]));
  return rows.map((r) => workspaceView(r, (r.agent_id ? byAgent.get(r.agent_id) : undefined) ?? 'offline', now));
}

export interface ListWorkspacesQuery {
  limit: number;
  cursor?: string | undefined;
  status?: WorkspaceStatus | undefined;
  /** A user id; null: the bootstrap admin's. */
  ownerId?: string | null | undefined;
}

/**
 * GET /v1/workspaces: newest first, keyset on (created_at, id). Live ones only, unless
 * `status=deleted` asks for the deleted. `ownerId`: one owner's (a non-admin: their own).
 */
export async function listWorkspaces(cp: ControlPlane, q: ListWorkspacesQuery): Promise<{ items: WorkspaceView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const owner = q.ownerId === undefined ? sql`` : sql`and w.owner_id is not distinct from ${q.ownerId}`;
  if (q.cursor !== undefined) {
    const [at] = await sql`select 1 from workspaces w where w.id = ${q.cursor} ${owner}`;
    if (!at) throw badRequest('validation_failed', `cursor: ${q.cursor} is not a workspace; pass the nextCursor of a previous page`, { field: 'cursor' });
  }
  const rows = await sql`
    select ${WORKSPACE_COLUMNS(sql)}
    where ${q.status === 'deleted' ? sql`true` : sql`w.deleted_at is null`} ${owner}
      ${q.status ? sql`and ${STATUS_SQL(sql)} = ${q.status}` : sql``}
      ${q.cursor ? sql`and (w.created_at, w.id) < (select c.created_at, c.id from workspaces c where c.id = ${q.cursor})` : sql``}
    order by w.created_at desc, w.id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { items: await decorate(cp, page), nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

/**
 * PATCH /v1/workspaces/{id}: name, TTL, idle timeout, labels, autostart. A new name renames its
 * agent with it; its labels stay the reserved ones (the workspace's own labels are the workspace's). A new TTL applies from the
 * next start (the current deadline stays).
 */
export async function updateWorkspace(cp: ControlPlane, id: string, patch: UpdateWorkspaceInput): Promise<WorkspaceView> {
  const sql = cp.database.sql;
  try {
    await sql.begin(async (tx) => {
      const [ws] = await tx`select * from workspaces where id = ${id} for update`;
      if (!ws || ws.deleted_at) throw notFound('workspace', id);
      const name: string = patch.name ?? ws.name;
      const labels: Record<string, string> = patch.labels ?? ws.labels;
      const now = await dbNow(tx);
      const auto = patch.autostartSchedule !== undefined ? autostartOf(patch.autostartSchedule, now) : { cron: ws.autostart_cron, timezone: ws.autostart_timezone, nextAt: ws.autostart_next_at === null ? null : new Date(ws.autostart_next_at) };
      await tx`
        update workspaces set name = ${name}, labels = ${JSON.stringify(labels)}::jsonb,
          ttl_ms = ${patch.ttlMs !== undefined ? patch.ttlMs : ws.ttl_ms}, idle_timeout_ms = ${patch.idleTimeoutMs !== undefined ? patch.idleTimeoutMs : ws.idle_timeout_ms},
          autostart_cron = ${auto.cron}, autostart_timezone = ${auto.timezone}, autostart_next_at = ${auto.nextAt?.toISOString() ?? null}::timestamptz, updated_at = clock_timestamp()
        where id = ${id}`;
      if (ws.agent_id && patch.name !== undefined) {
        // Its name and its `workspace` label follow the workspace's name (the other reserved labels stay).
        await tx`update agents set name = ${workspaceAgentName(name, id)}, labels = labels || jsonb_build_object(${WORKSPACE_LABEL}::text, ${name}::text)
                 where id = ${ws.agent_id} and revoked_at is null`;
      }
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(patch.name ?? id);
    throw err;
  }
  if (patch.name !== undefined) markChanged(cp, 'agents');
  return getWorkspace(cp, id);
}

/**
 * POST /v1/workspaces/{id}/start|stop|restart|rebuild and DELETE: an operation through
 * requestOperation (409 workspace_busy / invalid_transition). A rebuild records the template's
 * current version (what it is rebuilt from); a start the version the workspace runs.
 */
export async function requestWorkspaceAction(cp: ControlPlane, id: string, type: Extract<OperationType, 'start' | 'stop' | 'restart' | 'rebuild' | 'delete'>, actor: WorkspaceActor): Promise<RequestedOperation> {
  const sql = cp.database.sql;
  const [ws] = await sql<{ template_id: string; template_version: number; current_version: number }[]>`
    select w.template_id, w.template_version, t.current_version from workspaces w join templates t on t.id = w.template_id where w.id = ${id} and w.deleted_at is null`;
  if (!ws) throw notFound('workspace', id);
  const templateVersion = type === 'rebuild' ? ws.current_version : type === 'start' || type === 'restart' ? ws.template_version : null;
  return requestOperation(cp, { workspaceId: id, type, reason: 'user', actor: { userId: actor.userId, name: actor.name }, templateVersion });
}

/**
 * DELETE /v1/workspaces/{id}?orphan=true (admins): the workspace is deleted WITHOUT its provider
 * (the machine is gone, or its provider cannot be reached): an active operation ends `canceled`,
 * a `delete` operation (reason orphan_delete) is recorded succeeded so its status is `deleted` and
 * usage sees the end, deleted_at is set, and its agent is revoked (its token refused, its jobs
 * ended). LOUD: whatever the provider made is left behind; the answer says so.
 */
export async function orphanDeleteWorkspace(cp: ControlPlane, id: string, actor: WorkspaceActor): Promise<WorkspaceView> {
  const sql = cp.database.sql;
  const agentId = await sql.begin(async (tx) => {
    const [ws] = await tx<{ agent_id: string | null; deleted_at: Date | null }[]>`select agent_id, deleted_at from workspaces where id = ${id} for update`;
    if (!ws || ws.deleted_at) throw notFound('workspace', id);
    await tx`
      update workspace_operations set status = 'canceled', ended_at = clock_timestamp(), error_code = 'orphan_delete',
        error_message = ${`canceled by an orphan delete by ${actor.name}`}
      where workspace_id = ${id} and status in ('pending', 'running', 'canceling')`;
    await tx`
      insert into workspace_operations (id, workspace_id, type, status, reason, actor_id, actor_name, started_at, ended_at)
      values (${newId('wop')}, ${id}, 'delete', 'succeeded', 'orphan_delete', ${actor.userId}, ${actor.name}, clock_timestamp(), clock_timestamp())`;
    await tx`update workspaces set deleted_at = clock_timestamp(), updated_at = clock_timestamp() where id = ${id}`;
    return ws.agent_id;
  });
  if (agentId) {
    await revokeAgent(cp, agentId).catch((err: unknown) => {
      if (!(err instanceof AppError && err.code === 'not_found')) throw err; // already revoked
    });
  }
  return getWorkspace(cp, id);
}

/**
 * A job's `{"type":"workspace","workspace":…}` target (POST /v1/jobs) as its agent target: the
 * caller's own workspace by id or name (an admin's: any). One the caller may not see, a deleted
 * one, or one without a live agent is 422 `unknown_workspace`, the same answer for each (a hidden
 * one marked for the audit as a policy's denial).
 */
export async function workspaceAgentTarget(cp: ControlPlane, ref: string, actor: WorkspaceActor): Promise<{ type: 'agent'; agent: string }> {
  const sql = cp.database.sql;
  const unknown = () => new AppError(422, 'unknown_workspace', `no workspace with id or name ${JSON.stringify(ref)}; see GET /v1/workspaces`);
  const found = await findWorkspaceId(sql, ref, actor);
  if (!found) throw unknown();
  if (found.hidden) throw deniedByPolicy(unknown());
  const [row] = await sql<{ agent_id: string }[]>`
    select w.agent_id from workspaces w join agents a on a.id = w.agent_id and a.revoked_at is null
    where w.id = ${found.id} and w.deleted_at is null`;
  if (!row) throw unknown();
  return { type: 'agent', agent: row.agent_id };
}
