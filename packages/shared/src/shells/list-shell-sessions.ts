import type postgres from 'postgres';
import type { ShellSessionRow } from './shell-session-row.ts';

export interface ShellSessionFilter {
  /** An agent id or name. */
  target?: string | undefined;
  /** A user id or name. */
  user?: string | undefined;
  /** Keyset: sessions opened before this one (by its opened_at, id). */
  beforeId?: string | undefined;
  /** Only these users' sessions (a non-admin sees their own); undefined: all. */
  onlyUserId?: string | null | undefined;
  limit: number;
}

/** GET /v1/sessions: newest first (shell_sessions_opened_idx). */
export async function listShellSessions(sql: postgres.Sql, f: ShellSessionFilter): Promise<ShellSessionRow[]> {
  return sql<ShellSessionRow[]>`select * from shell_sessions where true
    ${f.target ? sql`and (target_id = ${f.target} or target_name = ${f.target})` : sql``}
    ${f.user ? sql`and (user_id = ${f.user} or user_name = ${f.user})` : sql``}
    ${f.onlyUserId !== undefined ? (f.onlyUserId === null ? sql`and user_id is null` : sql`and user_id = ${f.onlyUserId}`) : sql``}
    ${f.beforeId ? sql`and (opened_at, id) < (select opened_at, id from shell_sessions where id = ${f.beforeId})` : sql``}
    order by opened_at desc, id desc limit ${f.limit}`;
}
