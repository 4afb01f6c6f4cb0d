import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import type { CreateCommandInput, UpdateCommandInput } from './command-input.ts';
import { commandColumns, commandVersionView, commandView, type CommandVersionView, type CommandView } from './command-view.ts';
import { checkDeclarations } from './param-values.ts';

/** Who writes: stamped on the version (`createdBy`), and judged as the command's owner or an admin. */
export interface CommandActor {
  /** users.id; null for the bootstrap admin. */
  userId: string | null;
  name: string;
  admin: boolean;
}

type Definition = Omit<CreateCommandInput, 'name'>;

const exists = (name: string) =>
  new AppError(409, 'command_exists', `name: a command named ${JSON.stringify(name)} exists; change it with PUT /v1/commands/${name} (each change is a new version)`, { field: 'name' });

/**
 * A deleted name is not free for anyone: scripts, schedules and other teams still run it by name,
 * as the runner on the runner's machines. Only its last owner or an admin brings it back. The
 * message names no one: the caller learns who may, not who owns it.
 */
const deletedNotOurs = (name: string) =>
  new AppError(409, 'command_exists', `name: a command named ${JSON.stringify(name)} was deleted; only its last owner or an admin may bring it back (its versions: GET /v1/commands/${name}/versions)`, { field: 'name' });

const deletedNotice = (name: string) =>
  new AppError(404, 'not_found', `command ${JSON.stringify(name)} was deleted; its versions stay readable at GET /v1/commands/${name}/versions, and POST /v1/commands brings the name back as its next version`);

async function insertVersion(tx: postgres.TransactionSql, name: string, version: number, d: Definition, actor: CommandActor): Promise<void> {
  await tx`
    insert into command_versions (name, version, description, script, params, default_target, timeout_ms, labels, author_id, created_by)
    values (${name}, ${version}, ${d.description ?? null}, ${d.script}, ${JSON.stringify(d.params)}::jsonb,
            ${d.defaultTarget === undefined ? null : JSON.stringify(d.defaultTarget)}::jsonb, ${d.timeoutMs ?? null},
            ${JSON.stringify(d.labels)}::jsonb, ${actor.userId}, ${actor.name})`;
}

async function readCommand(sql: postgres.Sql | postgres.TransactionSql, name: string): Promise<CommandView | undefined> {
  const [row] = await sql`
    select ${commandColumns(sql)} from commands c
    join command_versions v on v.name = c.name and v.version = c.latest_version
    where c.name = ${name} and c.deleted_at is null`;
  return row ? commandView(row) : undefined;
}

/**
 * POST /v1/commands: version 1 of a new name; the caller owns it. A name that was deleted comes
 * back as the NEXT version of its history (commands' LOUD: a (name, version) names one script
 * forever), owned by the caller, if the caller is its last owner or an admin (else 409
 * `command_exists`: LOUD: otherwise anyone could take over a name others still run). A live name is 409 `command_exists`. Patterns are compiled and
 * defaults checked first (400 naming `params.<i>.…`): nothing is written for a refused body.
 */
export async function createCommand(cp: ControlPlane, input: CreateCommandInput, actor: CommandActor): Promise<CommandView> {
  checkDeclarations(input.params);
  const sql = cp.database.sql;
  return sql.begin(async (tx) => {
    // Concurrent creations of one name serialise on its primary key: the second sees a live row and is 409.
    const [row] = await tx<{ latest_version: number }[]>`
      insert into commands (name, latest_version, owner_id, created_by) values (${input.name}, 1, ${actor.userId}, ${actor.name})
      on conflict (name) do update set
        latest_version = commands.latest_version + 1, owner_id = excluded.owner_id, created_by = excluded.created_by,
        deleted_at = null, created_at = clock_timestamp(), updated_at = clock_timestamp()
      where commands.deleted_at is not null and (${actor.admin} or commands.owner_id is not distinct from ${actor.userId})
      returning latest_version`;
    if (!row) {
      const [taken] = await tx<{ deleted_at: unknown }[]>`select deleted_at from commands where name = ${input.name}`;
      throw taken && taken.deleted_at !== null ? deletedNotOurs(input.name) : exists(input.name);
    }
    await insertVersion(tx, input.name, row.latest_version, input, actor);
    return (await readCommand(tx, input.name))!;
  });
}

/** GET /v1/commands/{name}: its latest version. A deleted one is 404 saying where its versions are. */
export async function getCommand(cp: ControlPlane, name: string): Promise<CommandView> {
  const sql = cp.database.sql;
  const found = await readCommand(sql, name);
  if (found) return found;
  const [gone] = await sql`select 1 from commands where name = ${name}`;
  throw gone ? deletedNotice(name) : notFound('command', name);
}

/** GET /v1/commands: the live commands by name, keyset on the name (the cursor is the last name of the previous page). */
export async function listCommands(cp: ControlPlane, q: { limit: number; cursor?: string | undefined }): Promise<{ items: CommandView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  const rows = await sql`
    select ${commandColumns(sql)} from commands c
    join command_versions v on v.name = c.name and v.version = c.latest_version
    where c.deleted_at is null ${q.cursor === undefined ? sql`` : sql`and c.name > ${q.cursor}`}
    order by c.name
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit).map(commandView);
  return { items: page, nextCursor: rows.length > q.limit ? page[page.length - 1]!.name : null };
}

/**
 * The command's row under its lock, once `actor` may change it (its owner, or an admin): 404 for
 * none (or deleted), 403 `forbidden` for someone else's. Who may SEE a command (anyone with
 * commands:read) is not who may change it.
 */
async function lockForChange(tx: postgres.TransactionSql, name: string, actor: CommandActor): Promise<{ latest_version: number }> {
  const [row] = await tx<{ latest_version: number; owner_id: string | null; created_by: string | null; deleted_at: unknown }[]>`
    select latest_version, owner_id, created_by, deleted_at from commands where name = ${name} for update`;
  if (!row) throw notFound('command', name);
  if (row.deleted_at !== null) throw deletedNotice(name);
  if (!actor.admin && row.owner_id !== actor.userId) {
    throw new AppError(403, 'forbidden', `command ${JSON.stringify(name)} belongs to ${row.created_by ?? 'the bootstrap admin'}: only its owner or an admin may change or delete it`);
  }
  return row;
}

/** PUT /v1/commands/{name}: the whole next version (its owner or an admin). Every change is a new version; none is ever rewritten. */
export async function updateCommand(cp: ControlPlane, name: string, input: UpdateCommandInput, actor: CommandActor): Promise<CommandView> {
  if (input.name !== undefined && input.name !== name) {
    throw badRequest('validation_failed', `name: is ${JSON.stringify(input.name)} but the path names ${JSON.stringify(name)}; a command is not renamed (create the new name, delete the old)`, { field: 'name' });
  }
  checkDeclarations(input.params);
  return cp.database.sql.begin(async (tx) => {
    const row = await lockForChange(tx, name, actor);
    const version = row.latest_version + 1;
    await insertVersion(tx, name, version, input, actor);
    await tx`update commands set latest_version = ${version}, updated_at = clock_timestamp() where name = ${name}`;
    return (await readCommand(tx, name))!;
  });
}

/**
 * DELETE /v1/commands/{name} (its owner or an admin): it is no longer listed nor run, and its name
 * may be taken again (as its next version) by the same owner or an admin. Its versions stay readable: jobs that ran them name them.
 */
export async function deleteCommand(cp: ControlPlane, name: string, actor: CommandActor): Promise<void> {
  await cp.database.sql.begin(async (tx) => {
    await lockForChange(tx, name, actor);
    await tx`update commands set deleted_at = clock_timestamp(), updated_at = clock_timestamp() where name = ${name}`;
  });
}

/**
 * GET /v1/commands/{name}/versions: newest first, keyset on the version (the cursor is the last
 * version of the previous page). A deleted command's versions too; a name never used is 404.
 */
export async function listCommandVersions(
  cp: ControlPlane,
  name: string,
  q: { limit: number; cursor?: number | undefined },
): Promise<{ items: CommandVersionView[]; nextCursor: string | null; deleted: boolean }> {
  const sql = cp.database.sql;
  const [command] = await sql<{ deleted_at: unknown }[]>`select deleted_at from commands where name = ${name}`;
  if (!command) throw notFound('command', name);
  const rows = await sql`
    select * from command_versions
    where name = ${name} ${q.cursor === undefined ? sql`` : sql`and version < ${q.cursor}`}
    order by version desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit).map(commandVersionView);
  return { items: page, nextCursor: rows.length > q.limit ? String(page[page.length - 1]!.version) : null, deleted: command.deleted_at !== null };
}

/** One version of a live command, for a run: the latest, or `version`. 404 naming what is missing. */
export async function commandVersionToRun(cp: ControlPlane, name: string, version?: number): Promise<CommandVersionView> {
  const sql = cp.database.sql;
  const [row] = await sql`
    select v.* from commands c
    join command_versions v on v.name = c.name and v.version = ${version === undefined ? sql`c.latest_version` : sql`${version}`}
    where c.name = ${name} and c.deleted_at is null`;
  if (row) return commandVersionView(row);
  const [command] = await sql<{ latest_version: number; deleted_at: unknown }[]>`select latest_version, deleted_at from commands where name = ${name}`;
  if (!command) throw notFound('command', name);
  if (command.deleted_at !== null) throw deletedNotice(name);
  throw new AppError(404, 'not_found', `command ${JSON.stringify(name)} has no version ${version}; its latest is ${command.latest_version} (GET /v1/commands/${name}/versions)`);
}
