import { and, eq, isNull, or } from 'drizzle-orm';
import { agents } from '../db/schema/agents.ts';
import { notFound } from '../errors/app-error.ts';
import { generateToken, hashToken } from '../tokens.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { publishAgentCommand } from '../bus/publish.ts';
import { getAgent, type AgentView } from './agent-service.ts';

/**
 * Give an agent a new token (POST /v1/agents/{id}/rotate-token), answered once. The old one is
 * refused from the moment the UPDATE commits: the upgrade reads the hash from Postgres, with no
 * cache. The node holding the agent's socket closes it with 4410 (PROTOCOL.md §1), and the
 * gateway's sweep closes it within a heartbeat should that message be lost (it compares the hash
 * the socket was opened with). The agent keeps its jobs running and waits for the new token to
 * be installed in its token file; its jobs resume when it reconnects (§6).
 *
 * The new token is never pushed to the agent over its socket: rotation is what an operator does
 * when the old token may have leaked, and whoever holds the old token may be the one connected.
 */
export async function rotateAgentToken(cp: ControlPlane, ref: string): Promise<AgentView & { token: string }> {
  const token = generateToken('agent');
  const [row] = await cp.database.db
    .update(agents)
    .set({ tokenHash: hashToken(token) })
    .where(and(isNull(agents.revokedAt), or(eq(agents.id, ref), eq(agents.name, ref))))
    .returning({ id: agents.id });
  if (!row) throw notFound('agent', ref);
  await publishAgentCommand(cp, row.id, { type: 'token_rotated' });
  return { ...(await getAgent(cp, row.id)), token };
}
