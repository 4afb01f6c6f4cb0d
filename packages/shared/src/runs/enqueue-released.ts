import type { ControlPlane } from '../control-plane/control-plane.ts';
import { doneWithin, jobQueueEntry } from '../queue/job-queue.ts';

/** One addBulk at most this big: a run of 10,000 released at once is a few Redis round trips. */
const ADD_BATCH = 1000;
/** How long the roll-up waits for Redis before leaving the jobs to the reconciler. */
const ENQUEUE_TIMEOUT_MS = 5000;

/**
 * Hand released jobs (a run's children; single jobs whose runAt came: jobs/run-at) to BullMQ
 * under their own ids and with their priority, with the entry every job is added with
 * (queue/job-queue.ts jobQueueEntry: a second add of an id BullMQ holds is a no-op, so the
 * reconciler and this may both add one). Returns false when Redis did not take them all in time.
 *
 * LOUD: called only after the release is committed. A child released but never enqueued (Redis
 * down, this process killed -9 right here) is still safe: the reconciler re-adds every released
 * `queued` job BullMQ does not know (jobs/queries/sweeps.ts queuedJobsOlderThan).
 */
export async function enqueueReleased(cp: Pick<ControlPlane, 'queue'>, released: readonly { id: string; agentId: string | null; priority: number }[]): Promise<boolean> {
  if (released.length === 0) return true;
  const adds = (async () => {
    for (let i = 0; i < released.length; i += ADD_BATCH) {
      await cp.queue.addBulk(released.slice(i, i + ADD_BATCH).map(({ id, agentId, priority }) => jobQueueEntry(id, agentId, priority)));
    }
  })();
  return doneWithin(adds, ENQUEUE_TIMEOUT_MS);
}
