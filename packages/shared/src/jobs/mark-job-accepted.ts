import type { Sql } from 'postgres';

/**
 * PROTOCOL.md §2: the agent confirmed it runs this attempt. Recorded once (`accepted_at`), so an
 * agent that later comes back without the job lost it rather than never got it. Not a status
 * change. Undefined: the job is not running on this agent at this attempt (the agent must abandon
 * it); else the stop already recorded for it, if any, to pass on.
 */
export async function markJobAccepted(
  sql: Sql,
  jobId: string,
  attempt: number,
  agentId: string,
): Promise<{ stopReason: string | null; graceMs: number | null } | undefined> {
  const [row] = await sql<{ cancel_reason: string | null; cancel_grace_ms: number | null }[]>`
    update jobs set accepted_at = coalesce(accepted_at, clock_timestamp())
    where id = ${jobId} and attempt = ${attempt} and agent_id = ${agentId} and status = 'running'
    returning cancel_reason, cancel_grace_ms`;
  return row ? { stopReason: row.cancel_reason, graceMs: row.cancel_grace_ms } : undefined;
}
