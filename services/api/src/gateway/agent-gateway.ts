import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { agentCredentialOf } from '@vmo/shared/agents';
import { agentPresenceFlushMs, agentPresenceTtlMs, agentSessionSweepMs, agentSilenceCutMs } from '@vmo/shared/domain';
import { AgentPresenceWriter } from '@vmo/shared/presence';
import { AppError, unauthorized } from '@vmo/shared/errors';
import { newId } from '@vmo/shared/ids';
import { AgentCloseCode, MAX_FRAME_BYTES } from '@vmo/shared/protocol';
import { tokenKind } from '@vmo/shared/tokens';
import { rejectUpgrade } from '../http/reject-upgrade.ts';
import { agentUpgradeToken, chooseProtocol } from '../http/upgrade-auth.ts';
import { AgentSession, type SessionDeps } from './agent-session.ts';

/**
 * The agent gateway of one API node: authenticates agents on upgrade, holds their sessions,
 * keeps `last_seen_at` fresh in one statement per interval, closes revoked agents and sockets
 * that went silent.
 */
export class AgentGateway {
  // Agents offer no subprotocol; should one be offered, only `vmo.v1` is ever selected (ws would
  // otherwise select the first offered, which could echo a `bearer.<token>`).
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, handleProtocols: chooseProtocol });
  private readonly sessions = new Map<string, AgentSession>();
  /** The token hash each socket was opened with: the sweep closes one whose agent's token was rotated since. */
  private readonly tokenHashes = new WeakMap<AgentSession, string>();
  private readonly sweep: NodeJS.Timeout;
  private readonly deps: SessionDeps;

  constructor(deps: Omit<SessionDeps, 'presence'>) {
    const heartbeatMs = deps.cp.limits.heartbeatMs;
    this.deps = { ...deps, presence: new AgentPresenceWriter(deps.cp.redis, deps.cp.keys, agentPresenceTtlMs(heartbeatMs), agentPresenceFlushMs(heartbeatMs)) };
    this.sweep = setInterval(() => void this.sweepSessions().catch(() => {}), agentSessionSweepMs(heartbeatMs));
    this.sweep.unref();
  }

  get connected(): number {
    return this.sessions.size;
  }

  /** `accepted` is called once the socket is a WebSocket of an authenticated agent. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: () => void = () => {}): Promise<void> {
    // PROTOCOL.md §1: the token only in the Authorization header (throws a 401 AppError otherwise).
    const token = agentUpgradeToken(req);
    const kind = tokenKind(token);
    // LOUD: an enrolment token never authenticates a running agent (issue 11): it only creates one.
    if (kind === 'enrolment') {
      // Refusals are thrown, not answered here: the server records them (audit) before answering.
      throw new AppError(403, 'forbidden', 'an enrolment token is exchanged for an agent token at POST /v1/agent/enrol (vmo-agent --enrol does it); connect with that agent token');
    }
    if (kind !== 'agent') throw new AppError(403, 'forbidden', 'only agent tokens are accepted on the agent endpoint');
    let agent;
    try {
      agent = await agentCredentialOf(this.deps.cp, token);
    } catch {
      return rejectUpgrade(socket, new AppError(503, 'unavailable', 'the control plane cannot reach Postgres; retry'));
    }
    // Thrown, not answered here: the server counts a refused token against its address (VMO_AUTH_FAIL_RATE).
    if (!agent) throw unauthorized('the agent token is unknown or revoked');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      accepted();
      const previous = this.sessions.get(agent.id);
      previous?.close(AgentCloseCode.replaced, 'replaced by a newer connection of this agent');
      const session = new AgentSession(agent.id, newId('tok').slice(4), ws, this.deps, (s) => {
        if (this.sessions.get(s.agentId) === s) this.sessions.delete(s.agentId);
      });
      this.sessions.set(agent.id, session);
      this.tokenHashes.set(session, agent.tokenHash);
    });
  }

  /**
   * Every heartbeat interval: one UPDATE refreshes `last_seen_at` of every agent held here and
   * returns the ones still live; any held agent missing from the answer was revoked, and one whose
   * token hash changed had its token rotated (a safety net should the revoke or token_rotated
   * message on Redis be lost). Sockets silent for three intervals are dropped.
   */
  private async sweepSessions(): Promise<void> {
    const heartbeatMs = this.deps.cp.limits.heartbeatMs;
    for (const s of this.sessions.values()) if (s.silentForMs > agentSilenceCutMs(heartbeatMs)) s.terminate();
    const ids: string[] = [];
    const hashes: string[] = [];
    for (const [id, session] of this.sessions) {
      ids.push(id);
      hashes.push(this.tokenHashes.get(session) ?? '');
    }
    if (ids.length === 0) return;
    const sql = this.deps.cp.database.sql;
    // Two array parameters (one prepared statement whatever the count), and only the agents to
    // close come back: with 10,000 agents held, not 10,000 rows every interval (issue 16, idle CPU).
    const changed = await sql<{ id: string; token_hash: string | null }[]>`
      with held as (select * from unnest(${ids}::text[], ${hashes}::text[]) as h(id, token_hash)),
      live as (
        update agents a set last_seen_at = now() from held h
        where a.id = h.id and a.revoked_at is null
        returning a.id, a.token_hash
      )
      select h.id, live.token_hash from held h left join live on live.id = h.id
      where live.id is null or live.token_hash <> h.token_hash`;
    for (const row of changed) {
      const session = this.sessions.get(row.id);
      // Held since the statement was sent by a newer connection: the next sweep looks at that one.
      if (!session || !ids.includes(row.id) || this.tokenHashes.get(session) !== hashes[ids.indexOf(row.id)]) continue;
      if (row.token_hash === null) session.close(AgentCloseCode.revoked, 'agent revoked');
      else session.close(AgentCloseCode.tokenRotated, 'agent token rotated');
    }
  }

  /** Shutdown: 1012 tells agents to reconnect (to another node, or to this one when it is back). */
  close(): void {
    clearInterval(this.sweep);
    this.deps.presence.stop();
    for (const s of this.sessions.values()) s.close(AgentCloseCode.restart, 'server restarting');
    this.wss.close();
  }
}
