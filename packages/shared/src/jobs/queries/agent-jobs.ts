import type { Sql } from 'postgres';
import type { JobStatus } from '../../domain/job-status.ts';

/** The jobs of one agent that have not ended (a revoke ends them). */
export async function unendedJobsOfAgent(sql: Sql, agentId: string): Promise<{ id: string; attempt: number; status: 'queued' | 'running' }[]> {
  return sql<{ id: string; attempt: number; status: 'queued' | 'running' }[]>`
    select id, attempt, status from jobs where agent_id = ${agentId} and status in ('queued', 'running')`;
}

export interface JobFence {
  id: string;
  status: JobStatus;
  attempt: number;
  agentId: string | null;
}

/** What decides whether an agent may go on with the jobs it reports in its hello (PROTOCOL.md §6). */
export async function jobFences(sql: Sql, jobIds: string[]): Promise<JobFence[]> {
  if (jobIds.length === 0) return [];
  const rows = await sql<{ id: string; status: JobStatus; attempt: number; agent_id: string | null }[]>`
    select id, status, attempt, agent_id from jobs where id in ${sql(jobIds)}`;
  return rows.map((r) => ({ id: r.id, status: r.status, attempt: r.attempt, agentId: r.agent_id }));
}

/** Running jobs the agent has confirmed starting: one it no longer reports died with it. */
export async function acceptedJobsRunningOn(sql: Sql, agentId: string): Promise<{ id: string; attempt: number }[]> {
  return sql<{ id: string; attempt: number }[]>`
    select id, attempt from jobs where agent_id = ${agentId} and status = 'running' and accepted_at is not null`;
}

/** Running jobs of the agent with a stop recorded: repeated to it when it (re)connects. */
export async function stopsRequestedOn(sql: Sql, agentId: string): Promise<{ id: string; graceMs: number | null }[]> {
  const rows = await sql<{ id: string; cancel_grace_ms: number | null }[]>`
    select id, cancel_grace_ms from jobs where agent_id = ${agentId} and status = 'running' and cancel_reason is not null`;
  return rows.map((r) => ({ id: r.id, graceMs: r.cancel_grace_ms }));
}

/** The attempt of a job if it is running on this agent (output and exits of anything else are refused). */
export async function runningAttemptOn(sql: Sql, agentId: string, jobId: string): Promise<number | undefined> {
  const [row] = await sql<{ attempt: number }[]>`
    select attempt from jobs where id = ${jobId} and agent_id = ${agentId} and status = 'running'`;
  return row?.attempt;
}

/** How many jobs each agent runs now (the agents listing). */
export async function runningJobCounts(sql: Sql, agentIds: string[]): Promise<Map<string, number>> {
  if (agentIds.length === 0) return new Map();
  const rows = await sql<{ agent_id: string; n: number }[]>`
    select agent_id, count(*)::int as n from jobs where status = 'running' and agent_id in ${sql(agentIds)} group by agent_id`;
  return new Map(rows.map((r) => [r.agent_id, r.n]));
}
