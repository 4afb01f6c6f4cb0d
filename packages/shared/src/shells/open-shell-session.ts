import type postgres from 'postgres';
import type { ShellEndReason, ShellSessionRow } from './shell-session-row.ts';

export interface NewShellSession {
  id: string;
  /** 'agent' (the default) or 'host' (an SSH host's shell, held by an API node). */
  kind?: 'agent' | 'host';
  /** The target: an agent, or a host (named name@environment). */
  agent: { id: string; name: string };
  user: { id: string | null; name: string };
  command: string | null;
  cols: number;
  rows: number;
  /** A host shell's: the API node holding its terminal (shells/host-shell-node.ts in the API). */
  holderNode?: string | null;
}

/** SHELL.md §S1/§S7: the row of a new session, written before the upgrade is answered. */
export async function insertShellSession(sql: postgres.Sql, s: NewShellSession): Promise<void> {
  await sql`insert into shell_sessions (id, target_kind, target_id, target_name, user_id, user_name, command, cols, rows, holder_node)
    values (${s.id}, ${s.kind ?? 'agent'}, ${s.agent.id}, ${s.agent.name}, ${s.user.id}, ${s.user.name}, ${s.command}, ${s.cols}, ${s.rows}, ${s.holderNode ?? null})`;
}

export async function getShellSession(sql: postgres.Sql, id: string): Promise<ShellSessionRow | undefined> {
  const [row] = await sql<ShellSessionRow[]>`select * from shell_sessions where id = ${id}`;
  return row;
}

/**
 * The end, once (the node holding the agent, on `shell_exit`): true for the writer that recorded
 * it, so only one `shell.close` audit row is written however many times the agent repeats it.
 * Only the session's own agent (`agentId`) can end it: another agent naming its id ends nothing.
 */
export async function endShellSession(sql: postgres.Sql, id: string, agentId: string, code: number | null, signal: string | null, reason: ShellEndReason = 'exited'): Promise<ShellSessionRow | undefined> {
  const [row] = await sql<ShellSessionRow[]>`update shell_sessions set ended_at = clock_timestamp(), exit_code = ${code}, signal = ${signal}, end_reason = ${reason}
    where id = ${id} and target_id = ${agentId} and ended_at is null returning *`;
  return row;
}
