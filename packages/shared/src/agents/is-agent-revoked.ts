import type { Sql } from 'postgres';

/**
 * Whether the agent was revoked; an id with no row is not (its job then meets the dispatch
 * timeout). One primary-key read: the dispatcher asks it only when Redis says the agent is
 * offline, which a revoke makes it (the revoke clears the agent's presence).
 */
export async function isAgentRevoked(sql: Sql, agentId: string): Promise<boolean> {
  const [row] = await sql<{ revoked: boolean }[]>`select revoked_at is not null as revoked from agents where id = ${agentId}`;
  return row?.revoked ?? false;
}
