import type { ControlPlane } from '@vmo/shared/control-plane';
import { queuedJobsOlderThan, type ReleasedPlace } from '@vmo/shared/jobs';
import { enqueueJob } from '@vmo/shared/queue';

/** Jobs read from Postgres and checked against Redis at a time (one query, one pipeline). */
export const RECONCILE_PAGE = 1000;
/** Pages per pass at most: a pass looks at up to 10,000 jobs, the next one goes on from there. */
export const RECONCILE_PAGES_PER_PASS = 10;

/** Where each control plane's walk stands between passes (one walk per worker process). */
const places = new WeakMap<object, ReleasedPlace>();

/**
 * Redis is transport only: if it lost a queued job (restart without persistence, a failed add
 * while it was down), Postgres still has the row. Re-add every released `queued` job BullMQ does
 * not know, under the same id (and with its priority), so it runs at most once. Jobs released
 * less than `minAgeMs` ago are skipped: the API (or a run's roll-up, or the release loop) may
 * still be adding them. Held jobs are never enqueued here: a run's children only when their run's
 * roll-up releases them, a job with a runAt only when the release loop does (queuedJobsOlderThan).
 *
 * LOUD: the walk goes on from where the last pass stopped (keyset on (released_at, id)) and starts
 * over once it reaches the end. Reading "the oldest 1,000" every pass instead, a backlog of 1,000
 * older jobs waiting in BullMQ (a busy limited target, an agent offline) hid every newer job Redis
 * lost: they were never re-added, and stayed `queued` for good.
 *
 * BullMQ is asked about a whole page at once (one pipeline), not one round trip per job.
 */
export async function reconcileQueuedJobs(
  cp: ControlPlane,
  minAgeMs = 5000,
  { pageSize = RECONCILE_PAGE, pagesPerPass = RECONCILE_PAGES_PER_PASS }: { pageSize?: number; pagesPerPass?: number } = {},
): Promise<number> {
  let added = 0;
  try {
    for (let page = 0; page < pagesPerPass; page++) {
      const rows = await queuedJobsOlderThan(cp.database.sql, minAgeMs, { after: places.get(cp), limit: pageSize });
      added += await reAddUnknown(cp, rows);
      // Saved page by page: a pass cut short by an outage goes on from its last page next time.
      if (rows.length === pageSize) places.set(cp, rows[rows.length - 1]!.place);
      else {
        places.delete(cp); // the end: the next page is the first again
        break;
      }
    }
  } finally {
    if (added > 0) cp.log.warn({ added }, 'reconciler re-enqueued queued jobs unknown to BullMQ');
  }
  return added;
}

/**
 * Re-add the jobs of one page that BullMQ does not hold as waiting, delayed or active: no entry
 * at all, or a finished one (completed or failed: a failed delivery is kept a day, and would block
 * the add of its id). One pipeline for the page: per job, its hash and its place in the completed
 * and failed sets (what Queue.getJob, isCompleted and isFailed each asked in a round trip).
 */
async function reAddUnknown(cp: ControlPlane, rows: readonly { id: string; agentId: string | null; priority: number }[]): Promise<number> {
  if (rows.length === 0) return 0;
  const queue = cp.queue;
  // The control plane's own connection (the queue's server; BullMQ's client type declares no EXISTS nor ZSCORE in a pipeline).
  const pipeline = cp.redis.pipeline();
  for (const { id } of rows) pipeline.exists(queue.toKey(id)).zscore(queue.keys.completed!, id).zscore(queue.keys.failed!, id);
  const answers = (await pipeline.exec()) ?? [];
  let added = 0;
  for (const [i, { id, agentId, priority }] of rows.entries()) {
    const [exists, completed, failed] = answers.slice(3 * i, 3 * i + 3);
    // A job whose answer is missing or an error is left for the next pass: never removed on a guess.
    if (!exists || !completed || !failed || exists[0] || completed[0] || failed[0]) continue;
    const known = exists[1] === 1;
    const finished = completed[1] !== null || failed[1] !== null;
    if (known && !finished) continue;
    if (known) await queue.remove(id).catch(() => {});
    if (await enqueueJob(queue, id, agentId, priority)) added++;
  }
  return added;
}
