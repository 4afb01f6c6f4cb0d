import type { Row, Sql, TransactionSql } from 'postgres';
import { gateColumns, gateLockKey, type GateTarget } from '../../target-gate/gate-target.ts';
import { inLineSql, rowPlace, runningOnSql, targetJoinsSql, targetLimitSql } from '../../target-gate/line.ts';
import { noteLimitedTarget } from '../../target-gate/limited-targets.ts';

/**
 * `queued → running`, only from `queued`, bumping the attempt (the fencing token), only for the
 * agent whose presence the caller checked (`agent_id is not distinct from`: null for a job with
 * no agent). No row: it is no longer queued (canceled meanwhile, or taken by another worker), not
 * for that agent, or its target is full (below), and the caller must not run it.
 *
 * Two ways, one per kind of target:
 *
 * - **No limit** (the target's `max_concurrent_jobs` is null, and every local job): one
 *   statement, the fast path every job took before limits existed. It matches only when neither
 *   the agent nor the host has a limit, so a limited job can never slip through it.
 * - **A limit** (jobs/target-gate): the fast statement matched nothing, so the job is read with
 *   its target's limit, and if it is still `queued` and limited, started in a short transaction
 *   holding the target's advisory lock, only if the target's running jobs plus its released
 *   `queued` jobs ahead of this one in line order (target-gate/line.ts: priority, then first in,
 *   first out) are fewer than the limit. Turned away, the job stays `queued` and nothing is
 *   returned (the worker puts it back in BullMQ's delayed set; the end of a job on the target
 *   wakes it).
 *
 * LOUD: only a released job starts (`released_at is not null`): a run's child is held until its
 * run's rate control lets it go (runs/roll-up), a job with a runAt until that comes (jobs/run-at).
 * A queue entry for a held job (one left over in Redis, a stray re-add) must never start it, or
 * maxConcurrency, the canary and runAt mean nothing.
 *
 * LOUD: the lock is what makes the limit hold under concurrent workers. A READ COMMITTED
 * statement does not see a start another worker has not committed yet. Among jobs released in
 * line order that is harmless (the later job counts the earlier one, queued or running), but a
 * job can join the line ahead of jobs already in it (a higher priority; a run's child released
 * while an earlier-created job waits): its start and a later job's, side by side, would each
 * count nothing of the other and both go (test:
 * packages/shared/test/target-gate.test.ts, "released out of order"). So the count and the UPDATE
 * run after the lock is taken, each gated start of a target in turn (a statement's snapshot is
 * taken at its start, so the lock is its own statement before them). Jobs that leave `running` do
 * not lock: they only free slots, and a stale count only turns a job away early (woken again
 * later). A limit set while the fast path is mid-statement can let that one start through: a
 * limit applies from the jobs started after it is written.
 *
 * LOUD: the UPDATE can commit and its answer be lost (the connection reset in between). Thrown
 * as a plain failure, that left the job `running` under a live worker that never ran it, and
 * nothing ends such a job (the sweeps trust a live worker). So on a failure the row is read
 * again, as long as Postgres takes to answer: `running` under this worker means the UPDATE
 * landed, and the job is returned to be run. That conclusion holds because a worker processes
 * one delivery of a job at a time (services/worker one-delivery-per-job.ts): no other start of
 * this job can carry this worker's id. The same holds for the gated transaction's COMMIT.
 *
 * (The statement's text is what services/worker/test/lost-start-answer.test.ts intercepts.)
 */
export async function startJob(sql: Sql, jobId: string, workerId: string, checkedAgentId: string | null): Promise<Row | undefined> {
  try {
    return (await startUnlimited(sql, jobId, workerId, checkedAgentId)) ?? (await startAtTargetGate(sql, jobId, workerId, checkedAgentId));
  } catch (err) {
    const row = await readUntilAnswered(sql, jobId);
    if (row && row.status === 'running' && row.worker_id === workerId && (row.agent_id ?? null) === checkedAgentId) return row;
    throw err;
  }
}

/** The slow way, taken only when the fast statement matched nothing (see above). */
async function startAtTargetGate(sql: Sql, jobId: string, workerId: string, checkedAgentId: string | null): Promise<Row | undefined> {
  const [job] = await sql<{ status: string; agent_id: string | null; host_id: string | null; max_jobs: number | null }[]>`
    select j.status, j.agent_id, j.host_id, ${targetLimitSql(sql)} as max_jobs
    from jobs j ${targetJoinsSql(sql, 'j')}
    where j.id = ${jobId}`;
  // Gone, started or ended by someone else, or not the agent the caller checked: lost, as before.
  if (!job || job.status !== 'queued' || (job.agent_id ?? null) !== checkedAgentId) return undefined;
  if (job.max_jobs === null) {
    // The limit was removed between the two statements: the fast statement once more.
    return startUnlimited(sql, jobId, workerId, checkedAgentId);
  }
  const target: GateTarget = job.agent_id ? { kind: 'agent', id: job.agent_id } : { kind: 'ssh', id: job.host_id! };
  noteLimitedTarget(target.id);
  const { column, table } = gateColumns(target);
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${gateLockKey(target)}, 0))`;
    // The limit is read again here, under the lock: a PATCH may have changed it since. Each count
    // stops at the limit (`limit n`): a deep queue costs no more than a full target.
    const [row] = await tx`
      with target_limit as (select max_concurrent_jobs as n from ${tx(table)} where id = ${target.id})
      ${startUpdate(tx, jobId, workerId, checkedAgentId)}
        and (
          (select n from target_limit) is null
          or (
            select count(*) from (
              (select 1 from jobs o where ${runningOnSql(tx, 'o', column, target.id)} limit (select n from target_limit))
              union all
              (select 1 from jobs o where ${inLineSql(tx, 'o', column, target.id, rowPlace(tx, 'jobs'))} limit (select n from target_limit))
            ) occupied
          ) < (select n from target_limit)
        )
      returning *`;
    return row;
  });
}

/**
 * THE start, written once: `queued → running` for a released job still `queued`, bumping the
 * attempt, for the agent the caller checked (null: a job with no agent). Each way of starting adds
 * its own conditions after it, then `returning *`.
 */
const startUpdate = (sql: Sql | TransactionSql, jobId: string, workerId: string, checkedAgentId: string | null) => sql`
  update jobs set status = 'running', started_at = clock_timestamp(), attempt = attempt + 1, worker_id = ${workerId}
  where id = ${jobId} and status = 'queued' and released_at is not null and agent_id is not distinct from ${checkedAgentId}`;

/** The fast statement: matches only when neither the job's agent nor its host has a limit. */
async function startUnlimited(sql: Sql, jobId: string, workerId: string, checkedAgentId: string | null): Promise<Row | undefined> {
  const [row] = await sql`
    ${startUpdate(sql, jobId, workerId, checkedAgentId)}
      and not exists (select 1 from agents a where a.id = jobs.agent_id and a.max_concurrent_jobs is not null)
      and not exists (select 1 from hosts h where h.id = jobs.host_id and h.max_concurrent_jobs is not null)
    returning *`;
  return row;
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
