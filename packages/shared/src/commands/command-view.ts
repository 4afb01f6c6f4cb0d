import type postgres from 'postgres';
import type { CommandParam, DefaultTargetInput } from './command-input.ts';

/** One version as GET /v1/commands/{name}/versions shows it: what the command was, from `createdAt` on. */
export interface CommandVersionView {
  name: string;
  version: number;
  description: string | null;
  script: string;
  params: CommandParam[];
  defaultTarget: DefaultTargetInput | null;
  timeoutMs: number | null;
  labels: Record<string, string>;
  /** Who wrote this version. */
  createdBy: string | null;
  createdAt: string;
}

/** A command as GET /v1/commands/{name} shows it: its latest version, who owns it, when it was created and last changed. */
export interface CommandView extends Omit<CommandVersionView, 'createdBy' | 'createdAt'> {
  /** The user who created it (users.id; null: the bootstrap admin): they and admins may change or delete it. */
  ownerId: string | null;
  createdBy: string | null;
  createdAt: string;
  /** Who wrote the latest version, and when. */
  updatedBy: string | null;
  updatedAt: string;
}

/** The columns of a command with its latest version (commands c joined to command_versions v). */
export const commandColumns = (sql: postgres.Sql | postgres.TransactionSql) => sql`
  c.name, v.version, v.description, v.script, v.params, v.default_target, v.timeout_ms, v.labels,
  c.owner_id, c.created_by, c.created_at, v.created_by as updated_by, v.created_at as updated_at`;

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();

function definitionOf(r: postgres.Row) {
  return {
    name: r.name as string,
    version: r.version as number,
    description: (r.description as string | null) ?? null,
    script: r.script as string,
    params: r.params as CommandParam[],
    defaultTarget: (r.default_target as DefaultTargetInput | null) ?? null,
    timeoutMs: (r.timeout_ms as number | null) ?? null,
    labels: r.labels as Record<string, string>,
  };
}

/** A row of `commandColumns`. */
export function commandView(r: postgres.Row): CommandView {
  return {
    ...definitionOf(r),
    ownerId: (r.owner_id as string | null) ?? null,
    createdBy: (r.created_by as string | null) ?? null,
    createdAt: iso(r.created_at),
    updatedBy: (r.updated_by as string | null) ?? null,
    updatedAt: iso(r.updated_at),
  };
}

/** A `command_versions` row. */
export function commandVersionView(r: postgres.Row): CommandVersionView {
  return { ...definitionOf(r), createdBy: (r.created_by as string | null) ?? null, createdAt: iso(r.created_at) };
}
