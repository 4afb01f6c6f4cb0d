import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { isId, newId } from '../domain/ids.ts';
import type { ProviderKind } from '../domain/workspace.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import { parseProviderConfig } from './provider-config.ts';
import type { CreateTemplateInput, TemplateParamDefinition, UpdateTemplateInput } from './template-input.ts';
import { iso } from './iso-time.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

/** One version of a template: what a workspace is built from. Versions are never edited. */
export interface TemplateVersionView {
  version: number;
  provider: ProviderKind;
  config: Record<string, unknown>;
  params: TemplateParamDefinition[];
  defaultTtlMs: number | null;
  activityBumpMs: number | null;
  idleTimeoutMs: number | null;
  failureTtlMs: number | null;
  timeTilDormantMs: number | null;
  timeTilDormantAutodeleteMs: number | null;
  maxDeadlineMs: number | null;
  agentConnectTimeoutMs: number;
  costPerHour: number | null;
  labels: Record<string, string>;
  createdBy: string | null;
  createdAt: string;
}

export interface TemplateView extends TemplateVersionView {
  id: string;
  name: string;
  /** The version new workspaces and rebuilds use (its fields are the ones shown here). */
  currentVersion: number;
  updatedAt: string;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A template_versions row (snake case, as the driver gives it) as its view. */
export function templateVersionView(r: postgres.Row): TemplateVersionView {
  return {
    version: r.version,
    provider: r.provider,
    config: r.config ?? {},
    params: r.params ?? [],
    defaultTtlMs: num(r.default_ttl_ms),
    activityBumpMs: num(r.activity_bump_ms),
    idleTimeoutMs: num(r.idle_timeout_ms),
    failureTtlMs: num(r.failure_ttl_ms),
    timeTilDormantMs: num(r.time_til_dormant_ms),
    timeTilDormantAutodeleteMs: num(r.time_til_dormant_autodelete_ms),
    maxDeadlineMs: num(r.max_deadline_ms),
    agentConnectTimeoutMs: Number(r.agent_connect_timeout_ms),
    costPerHour: num(r.cost_per_hour),
    labels: r.labels ?? {},
    createdBy: r.created_by ?? null,
    createdAt: iso(r.created_at),
  };
}

/** The template and its current version, joined: `t.*` and `v.*` under prefixes. */
const CURRENT = (sql: Sql) => sql`
  select t.id, t.name, t.current_version, t.updated_at, v.*
  from templates t join template_versions v on v.template_id = t.id and v.version = t.current_version`;

function templateView(r: postgres.Row): TemplateView {
  return { id: r.id, name: r.name, currentVersion: r.current_version, ...templateVersionView(r), updatedAt: iso(r.updated_at) };
}

const nameTaken = (name: string) =>
  new AppError(409, 'template_exists', `name: a template named ${JSON.stringify(name)} exists; choose another name, or change that one with PATCH /v1/templates/{id} (a new version)`, { field: 'name' });

/** A live template's row by id or name (404 otherwise). */
export async function findTemplate(sql: Sql, ref: string): Promise<TemplateView> {
  const [row] = await sql`${CURRENT(sql)} where t.deleted_at is null and ${isId('tpl', ref) ? sql`t.id = ${ref}` : sql`t.name = ${ref}`}`;
  if (!row) throw notFound('template', ref);
  return templateView(row);
}

/** One version of a template (deleted templates included: workspaces built from them keep it). */
export async function templateVersion(sql: Sql, templateId: string, version: number): Promise<TemplateVersionView | undefined> {
  const [row] = await sql`select * from template_versions where template_id = ${templateId} and version = ${version}`;
  return row ? templateVersionView(row) : undefined;
}

type VersionValues = Omit<TemplateVersionView, 'version' | 'createdBy' | 'createdAt'>;

async function insertVersion(tx: Sql, templateId: string, version: number, v: VersionValues, createdBy: string) {
  await tx`
    insert into template_versions (template_id, version, provider, config, params, default_ttl_ms, activity_bump_ms, idle_timeout_ms,
      failure_ttl_ms, time_til_dormant_ms, time_til_dormant_autodelete_ms, max_deadline_ms, agent_connect_timeout_ms, cost_per_hour, labels, created_by)
    values (${templateId}, ${version}, ${v.provider}, ${JSON.stringify(v.config)}::jsonb, ${JSON.stringify(v.params)}::jsonb, ${v.defaultTtlMs}, ${v.activityBumpMs},
      ${v.idleTimeoutMs}, ${v.failureTtlMs}, ${v.timeTilDormantMs}, ${v.timeTilDormantAutodeleteMs}, ${v.maxDeadlineMs}, ${v.agentConnectTimeoutMs},
      ${v.costPerHour}, ${JSON.stringify(v.labels)}::jsonb, ${createdBy})`;
}

/** Checks across fields zod does not see: the provider's config, a default of a required param is fine (it is then always given). */
function checkVersion(v: VersionValues): VersionValues {
  const config = parseProviderConfig(v.provider, v.config) as Record<string, unknown>;
  if (v.timeTilDormantAutodeleteMs !== null && v.timeTilDormantMs === null) {
    throw badRequest('validation_failed', 'timeTilDormantAutodeleteMs: needs timeTilDormantMs (a workspace is deleted that long after it became dormant)', { field: 'timeTilDormantAutodeleteMs' });
  }
  return { ...v, config };
}

/** POST /v1/templates (admins; the route checked): the template and its version 1. */
export async function createTemplate(cp: ControlPlane, input: CreateTemplateInput, createdBy: string): Promise<TemplateView> {
  const v = checkVersion({
    provider: input.provider,
    config: input.config,
    params: input.params,
    defaultTtlMs: input.defaultTtlMs ?? null,
    activityBumpMs: input.activityBumpMs ?? null,
    idleTimeoutMs: input.idleTimeoutMs ?? null,
    failureTtlMs: input.failureTtlMs ?? null,
    timeTilDormantMs: input.timeTilDormantMs ?? null,
    timeTilDormantAutodeleteMs: input.timeTilDormantAutodeleteMs ?? null,
    maxDeadlineMs: input.maxDeadlineMs ?? null,
    agentConnectTimeoutMs: input.agentConnectTimeoutMs ?? 120_000,
    costPerHour: input.costPerHour ?? null,
    labels: input.labels,
  });
  const id = newId('tpl');
  try {
    return await cp.database.sql.begin(async (tx) => {
      await tx`insert into templates (id, name, current_version, created_by) values (${id}, ${input.name}, 1, ${createdBy})`;
      await insertVersion(tx, id, 1, v, createdBy);
      return findTemplate(tx, id);
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(input.name);
    throw err;
  }
}

/**
 * PATCH /v1/templates/{id}: a new version from the current one and the fields given (a name
 * alone changes no version). Workspaces keep the version they were built from; a rebuild takes
 * the new one.
 */
export async function updateTemplate(cp: ControlPlane, ref: string, patch: UpdateTemplateInput, createdBy: string): Promise<TemplateView> {
  try {
    return await cp.database.sql.begin(async (tx) => {
      const current = await findTemplate(tx, ref);
      // Under the row's lock: two PATCHes make two versions, one after the other.
      await tx`select 1 from templates where id = ${current.id} for update`;
      const latest = await findTemplate(tx, current.id);
      const { name, ...fields } = patch;
      if (name !== undefined && name !== latest.name) await tx`update templates set name = ${name}, updated_at = clock_timestamp() where id = ${latest.id}`;
      if (Object.keys(fields).length > 0) {
        const next: VersionValues = { ...pick(latest), ...definedOnly(fields) };
        // A new provider without a new config starts from an empty one (another provider's settings mean nothing to it).
        if (patch.provider !== undefined && patch.provider !== latest.provider && patch.config === undefined) next.config = {};
        const version = latest.currentVersion + 1;
        await insertVersion(tx, latest.id, version, checkVersion(next), createdBy);
        await tx`update templates set current_version = ${version}, updated_at = clock_timestamp() where id = ${latest.id}`;
      }
      return findTemplate(tx, latest.id);
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(patch.name ?? ref);
    throw err;
  }
}

function pick(t: TemplateView): VersionValues {
  const { id: _i, name: _n, currentVersion: _c, updatedAt: _u, version: _v, createdBy: _b, createdAt: _a, ...rest } = t;
  return rest;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** GET /v1/templates: live ones, by name (there are few). */
export async function listTemplates(cp: ControlPlane): Promise<TemplateView[]> {
  const sql = cp.database.sql;
  const rows = await sql`${CURRENT(sql)} where t.deleted_at is null order by t.name limit 1000`;
  return rows.map(templateView);
}

/** GET /v1/templates/{id}/versions: newest first. */
export async function listTemplateVersions(cp: ControlPlane, ref: string): Promise<TemplateVersionView[]> {
  const sql = cp.database.sql;
  const t = await findTemplate(sql, ref);
  const rows = await sql`select * from template_versions where template_id = ${t.id} order by version desc`;
  return rows.map(templateVersionView);
}

/**
 * DELETE /v1/templates/{id}: no new workspace from it, and its name is free again. The rows stay:
 * workspaces built from it keep their version (start, stop, rebuild and delete go on working).
 */
export async function deleteTemplate(cp: ControlPlane, ref: string): Promise<void> {
  const sql = cp.database.sql;
  const t = await findTemplate(sql, ref);
  await sql`update templates set deleted_at = clock_timestamp() where id = ${t.id} and deleted_at is null`;
}
