import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { QueuedJobData } from '../queue/job-queue.ts';

/** One addBulk at most this big: a run of 10,000 released at once is a few Redis round trips. */
const ADD_BATCH = 1000;
/** How long the roll-up waits for Redis before leaving the jobs to the reconciler. */
const ENQUEUE_TIMEOUT_MS = 5000;

/**
 * Hand released children to BullMQ under their own ids, as queue/job-queue.ts enqueueJob does
 * for one job (same options: a second add of an id BullMQ holds is a no-op, so the reconciler
 * and this may both add one). Returns false when Redis did not take them all in time.
 *
 * LOUD: called only after the release is committed. A child released but never enqueued (Redis
 * down, this process killed -9 right here) is still safe: the reconciler re-adds every released
 * `queued` job BullMQ does not know (jobs/queries/sweeps.ts queuedJobsOlderThan).
 */
export async function enqueueReleased(cp: Pick<ControlPlane, 'queue'>, released: readonly { id: string; agentId: string | null }[]): Promise<boolean> {
  if (released.length === 0) return true;
  const adds = (async () => {
    for (let i = 0; i < released.length; i += ADD_BATCH) {
      await cp.queue.addBulk(
        released.slice(i, i + ADD_BATCH).map(({ id, agentId }) => ({
          name: 'run',
          data: (agentId ? { jobId: id, agentId } : { jobId: id }) satisfies QueuedJobData,
          opts: { jobId: id, removeOnComplete: true, removeOnFail: { age: 24 * 3600 }, attempts: 1 },
        })),
      );
    }
  })();
  adds.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ENQUEUE_TIMEOUT_MS)));
  try {
    return await Promise.race([adds.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
