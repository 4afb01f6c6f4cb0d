import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { enqueueReleased } from '../../runs/enqueue-released.ts';
import { requestRollUp } from '../../runs/roll-up.ts';

/** Jobs released per statement; more due at once take a few passes. */
const RELEASE_BATCH = 1000;
/**
 * A run's child whose retry came due within this long is handed to its run's roll-up; older ones
 * were handed already (every pass sees them again until released: a run with no room for them is
 * rolled up again by its next child's end, and by the roll-up sweep).
 */
const RUN_CHILD_DUE_WINDOW_MS = 10_000;

/*
 * LOUD: WHERE A JOB WAITS FOR ITS NEXT ATTEMPT, AND WHY THERE (issue 14, retries).
 *
 * The `retry` transition (jobs/lifecycle/sql/retry-job.ts) leaves the job `queued` and HELD
 * (`released_at` null) with `retry_at`: exactly how a job waits for its `runAt` (jobs/run-at,
 * whose reasons hold here word for word). It is not in BullMQ, so the wait holds no worker slot
 * and no place in its target's line, a Redis that restarts empty loses nothing (the wait is a
 * Postgres row), and a cancel meanwhile is the ordinary `stop_queued`. Every worker runs this
 * with the runAt release (services/worker release-due.ts), every RELEASE_DUE_EVERY_MS:
 *
 * - a single job is released (`released_at` set: one indexed UPDATE, jobs_retry_due_idx) and
 *   handed to the queue; once released it is an ordinary released `queued` job, which the
 *   reconciler re-adds should that enqueue be lost;
 * - a run's child is NOT released here: its run's rate control decides when it starts
 *   (maxConcurrency), so its run is rolled up, and the roll-up releases due children in run
 *   order (runs/run-children.ts releaseChildren skips a child whose retry_at is ahead).
 *
 * Several workers at once: `for update skip locked` gives each job to one of them, and the outer
 * conditions are checked again on the locked row, so a job is released once.
 */
export async function releaseDueRetries(cp: ControlPlane): Promise<number> {
  const sql = cp.database.sql;
  let total = 0;
  for (;;) {
    const rows = await sql<{ id: string; agent_id: string | null; priority: number }[]>`
      update jobs set released_at = clock_timestamp()
      where id in (
          select id from jobs
          where status = 'queued' and released_at is null and retry_at <= clock_timestamp() and run_id is null
          order by retry_at, id
          limit ${RELEASE_BATCH}
          for update skip locked)
        and status = 'queued' and released_at is null and run_id is null and retry_at <= clock_timestamp()
      returning id, agent_id, priority`;
    total += rows.length;
    if (rows.length > 0 && !(await enqueueReleased(cp, rows.map((r) => ({ id: r.id, agentId: r.agent_id, priority: r.priority }))))) {
      cp.log.warn({ released: rows.length }, 'jobs whose retry came were released but not enqueued (Redis unavailable); the reconciler will enqueue them');
    }
    if (rows.length < RELEASE_BATCH) break;
  }
  const runs = await sql<{ run_id: string }[]>`
    select distinct run_id from jobs
    where status = 'queued' and released_at is null and retry_at <= clock_timestamp()
      and retry_at > clock_timestamp() - ${RUN_CHILD_DUE_WINDOW_MS} * interval '1 millisecond' and run_id is not null
    limit 100`;
  for (const { run_id } of runs) await requestRollUp(cp, run_id);
  return total;
}
