import type { Row, Sql } from 'postgres';

/**
 * `queued → running`, only from `queued`, bumping the attempt (the fencing token), only for the
 * agent whose presence the caller checked (`agent_id is not distinct from`: null for a job with
 * no agent). No row: it is no longer queued (canceled meanwhile, or taken by another worker) or
 * not for that agent, and the caller must not run it.
 *
 * LOUD: the UPDATE can commit and its answer be lost (the connection reset in between). Thrown
 * as a plain failure, that left the job `running` under a live worker that never ran it, and
 * nothing ends such a job (the sweeps trust a live worker). So on a failure the row is read
 * again, as long as Postgres takes to answer: `running` under this worker means the UPDATE
 * landed, and the job is returned to be run. That conclusion holds because a worker processes
 * one delivery of a job at a time (services/worker one-delivery-per-job.ts): no other start of
 * this job can carry this worker's id.
 *
 * (The statement's text is what services/worker/test/lost-start-answer.test.ts intercepts.)
 */
export async function startJob(sql: Sql, jobId: string, workerId: string, checkedAgentId: string | null): Promise<Row | undefined> {
  try {
    const [row] = await sql`
      update jobs set status = 'running', started_at = clock_timestamp(), attempt = attempt + 1, worker_id = ${workerId}
      where id = ${jobId} and status = 'queued' and agent_id is not distinct from ${checkedAgentId}
      returning *`;
    return row;
  } catch (err) {
    const row = await readUntilAnswered(sql, jobId);
    if (row && row.status === 'running' && row.worker_id === workerId && (row.agent_id ?? null) === checkedAgentId) return row;
    throw err;
  }
}

async function readUntilAnswered(sql: Sql, jobId: string): Promise<Row | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await sql`select * from jobs where id = ${jobId}`;
      return row;
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
  }
}
