import { insertAuditEvents } from '../audit/index.ts';
import { publishShellEvent } from '../bus/index.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import { releaseShellSlot } from './live-shell-sessions.ts';
import type { ShellEndReason, ShellSessionRow } from './shell-session-row.ts';

/**
 * The API nodes holding SSH hosts' terminals (SHELL.md §S8): each live node keeps a presence key
 * (`shellNodePresence`, refreshed by services/api/src/shells/host-shell-node.ts), each host
 * session's row names its node (`holder_node`). A node that stops ends its own open sessions; one
 * that died cannot, so any other node (or the next to start) that finds its key gone ends them.
 */

/** This node is alive for `ttlMs` more. */
export async function markShellNode(cp: ControlPlane, node: string, ttlMs: number): Promise<void> {
  await cp.redis.set(cp.keys.shellNodePresence(node), String(process.pid), 'PX', ttlMs);
}

/** Stopping: nobody should wait for its key to expire (its sessions were ended first). */
export async function clearShellNode(cp: ControlPlane, node: string): Promise<void> {
  await cp.redis.del(cp.keys.shellNodePresence(node));
}

/** Whether the node's key is there. Rejects when Redis does not answer: never read that as dead. */
export async function shellNodeAlive(cp: ControlPlane, node: string): Promise<boolean> {
  return (await cp.redis.exists(cp.keys.shellNodePresence(node))) === 1;
}

/** The nodes that hold open sessions, per the rows (shell_sessions_open_holder_idx). */
export async function shellHolderNodes(cp: ControlPlane): Promise<string[]> {
  const rows = await cp.database.sql<{ holder_node: string }[]>`select distinct holder_node from shell_sessions
    where ended_at is null and holder_node is not null`;
  return rows.map((r) => r.holder_node);
}

/** Of these sessions, the ones whose rows have ended (by whoever): their terminals must not outlive them. */
export async function endedShellSessions(cp: ControlPlane, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await cp.database.sql<{ id: string }[]>`select id from shell_sessions where id = any(${ids as string[]}) and ended_at is not null`;
  return rows.map((r) => r.id);
}

/**
 * End every open session `node` holds: it is stopping (`server_restarted`: it hangs them up, so
 * `SIGHUP`) or was found dead (`server_lost`: what became of the terminal is unknown). One
 * conditional UPDATE (`ended_at is null`): of several nodes ending a dead node's sessions at once,
 * and of the node's own relay ending one as it exits, each row is ended, audited (`shell.close` by
 * `system`) and announced once, by its writer. Attachments anywhere hear the end on the session's
 * channel: `exit` for a hang-up, or that the session is gone (4404) for a lost one.
 */
export async function endShellSessionsHeldBy(cp: ControlPlane, node: string, reason: Extract<ShellEndReason, 'server_restarted' | 'server_lost'>): Promise<ShellSessionRow[]> {
  const sql = cp.database.sql;
  const signal = reason === 'server_restarted' ? 'SIGHUP' : null;
  const ended = await sql<ShellSessionRow[]>`update shell_sessions set ended_at = clock_timestamp(), signal = ${signal}, end_reason = ${reason}
    where holder_node = ${node} and ended_at is null returning *`;
  if (ended.length === 0) return ended;
  await insertAuditEvents(
    sql,
    ended.map((row) => ({
      actorKind: 'system' as const,
      actorId: null,
      actorName: row.target_name,
      tokenId: null,
      action: 'shell.close',
      resourceType: 'shell_session',
      resourceId: row.id,
      targets: [row.target_name],
      sourceIp: null,
      requestId: null,
      result: 'allowed' as const,
      status: null,
      detail: { exitCode: null, signal, recordedBytes: Number(row.recorded_bytes), reason, node },
    })),
  );
  for (const row of ended) {
    void releaseShellSlot(cp, row.target_id, row.id).catch(() => {});
    const event =
      reason === 'server_restarted'
        ? { type: 'exit' as const, code: null, signal }
        : { type: 'error' as const, attach: null, code: 'session_not_found', message: `the API node holding this shell (${node}) stopped unannounced: the session ended` };
    void publishShellEvent(cp, row.id, event).catch(() => {});
  }
  return ended;
}
