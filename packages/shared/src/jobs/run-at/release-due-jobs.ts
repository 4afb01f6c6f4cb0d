import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { enqueueReleased } from '../../runs/enqueue-released.ts';

/** Jobs released per statement; a backlog larger than this (all due at once) takes a few passes. */
const RELEASE_BATCH = 1000;

/*
 * LOUD: WHERE A JOB WAITS FOR ITS `runAt`, AND WHY THERE.
 *
 * A single job whose runAt is ahead is inserted HELD: `queued` with `released_at` null, the state a
 * run's child waits in for its run (jobs/insert-job.ts releasedAtSql). It is NOT in BullMQ, not
 * even in its delayed set. Every worker runs this release every RELEASE_DUE_EVERY_MS: one indexed
 * UPDATE (jobs_run_at_idx) sets `released_at` on the held jobs whose runAt has come, and only then
 * are they added to the queue (with their priority). Why not BullMQ's `delay`:
 *
 * - Postgres stays the only record of the wait. A Redis that restarts empty (no persistence, a
 *   failover) loses its delayed set; a delayed entry lost there would have to be rebuilt by the
 *   reconciler, which would have to know the job is not due yet (and re-add it with the remaining
 *   delay) or run it early. Here there is nothing in Redis to lose: the release reads Postgres,
 *   and once released the job is an ordinary released `queued` job that the reconciler already
 *   re-adds if Redis loses it (invariant 1: Redis is transport).
 * - The rules that already hold a run's child hold a waiting job, unchanged: the start refuses a
 *   job not released (lifecycle/sql/start-job.ts), the reconciler never enqueues one
 *   (queries/sweeps.ts), a limited target's line does not count it (target-gate/line.ts), a stray
 *   queue entry for it is dropped (services/worker process-job.ts). So it holds no worker slot and
 *   no place in its target's line, and a cancel is the ordinary `stop_queued`.
 * - Jobs a year ahead cost Redis nothing (it runs with noeviction: memory that only grows is an outage).
 *
 * The cost: a job starts up to RELEASE_DUE_EVERY_MS after its runAt, and each worker sends one
 * cheap statement that often (an index probe that finds nothing, most of the time).
 *
 * Several workers release at once safely: `for update skip locked` gives each row to one of them,
 * and the outer conditions are checked again on the locked row, so a job is released once. A
 * release whose enqueue is lost (Redis down, this process killed between the two) is re-added by
 * the reconciler like any released job.
 */

/**
 * Release the single jobs whose runAt has come (Postgres' clock), soonest first, and hand them
 * to the queue. Returns how many were released.
 */
export async function releaseDueJobs(cp: Pick<ControlPlane, 'database' | 'queue' | 'log'>): Promise<number> {
  const sql = cp.database.sql;
  let total = 0;
  for (;;) {
    const rows = await sql<{ id: string; agent_id: string | null; priority: number; run_at: Date; created_at: Date }[]>`
      update jobs set released_at = clock_timestamp()
      where id in (
          select id from jobs
          where status = 'queued' and released_at is null and run_id is null and run_at <= clock_timestamp()
          order by run_at, id
          limit ${RELEASE_BATCH}
          for update skip locked)
        and status = 'queued' and released_at is null and run_id is null
      returning id, agent_id, priority, run_at, created_at`;
    if (rows.length === 0) return total;
    total += rows.length;
    // Due first, and first submitted first among the due at once: the queue keeps this order within a priority.
    const ordered = rows.sort((a, b) => +new Date(a.run_at) - +new Date(b.run_at) || +new Date(a.created_at) - +new Date(b.created_at));
    if (!(await enqueueReleased(cp, ordered.map((r) => ({ id: r.id, agentId: r.agent_id, priority: r.priority }))))) {
      cp.log.warn({ released: rows.length }, 'jobs whose runAt came were released but not enqueued (Redis unavailable); the reconciler will enqueue them');
    }
    if (rows.length < RELEASE_BATCH) return total;
  }
}
