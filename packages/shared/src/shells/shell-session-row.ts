/**
 * Why a session ended (`shell_sessions.end_reason`, SHELL.md §S7):
 * - `exited`: its terminal's program ended (its exit code or signal; `SIGHUP` when reaped after the grace);
 * - `lost`: its agent no longer held it (restarted while nobody was attached);
 * - `server_restarted`: the API node holding the SSH host's terminal stopped, and hung it up;
 * - `server_lost`: that node died unannounced (killed, its machine lost): another node (or the
 *   next one to start) found its presence gone and ended its sessions.
 */
export type ShellEndReason = 'exited' | 'lost' | 'server_restarted' | 'server_lost';

/** A shell session as the API answers it (GET /v1/sessions). */
export interface ShellSessionView {
  id: string;
  target: { kind: string; id: string; name: string };
  user: { id: string | null; name: string };
  command: string | null;
  cols: number;
  rows: number;
  openedAt: string;
  endedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  /** Null while open (and for sessions ended before reasons were recorded). */
  endReason: ShellEndReason | null;
  recordedBytes: number;
}

export interface ShellSessionRow {
  id: string;
  target_kind: string;
  target_id: string;
  target_name: string;
  user_id: string | null;
  user_name: string;
  command: string | null;
  cols: number;
  rows: number;
  opened_at: Date | string;
  ended_at: Date | string | null;
  exit_code: number | null;
  signal: string | null;
  recorded_bytes: string | number;
  holder_node: string | null;
  end_reason: string | null;
}

export function shellSessionView(r: ShellSessionRow): ShellSessionView {
  return {
    id: r.id,
    target: { kind: r.target_kind, id: r.target_id, name: r.target_name },
    user: { id: r.user_id, name: r.user_name },
    command: r.command,
    cols: r.cols,
    rows: r.rows,
    openedAt: new Date(r.opened_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    exitCode: r.exit_code,
    signal: r.signal,
    endReason: r.end_reason as ShellEndReason | null,
    recordedBytes: Number(r.recorded_bytes),
  };
}
