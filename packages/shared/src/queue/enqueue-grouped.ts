import type { Queue } from 'bullmq';
import { GroupCommit } from '../batch/group-commit.ts';
import { DEFAULT_PRIORITY } from '../domain/run-at-and-priority.ts';
import { doneWithin, jobQueueEntry, type QueuedJobData } from './job-queue.ts';

interface ToEnqueue {
  jobId: string;
  agentId: string | null;
  priority: number;
}

const MAX_ADDS_PER_BULK = 128;
const MAX_BULKS_IN_FLIGHT = 4;

const perQueue = new WeakMap<Queue<QueuedJobData>, GroupCommit<ToEnqueue, boolean>>();

/**
 * enqueueJob for many submitters at once (group commit, issue 16): the adds of one event-loop
 * turn (or of the turns a bulk in flight took) go to Redis as one `addBulk`, each entry exactly
 * jobQueueEntry's. True for every job of a bulk Redis took within `timeoutMs`, false for every
 * job of one it did not: those are durable in Postgres and the reconciler enqueues them, as it
 * does after a single add that failed.
 *
 * LOUD: call it only after the job's row is COMMITTED (the reconciler's guarantee: a queue entry
 * never names a row that may not exist).
 */
export function enqueueJobGrouped(queue: Queue<QueuedJobData>, jobId: string, agentId: string | null, priority: number = DEFAULT_PRIORITY, timeoutMs = 2000): Promise<boolean> {
  let group = perQueue.get(queue);
  if (!group) {
    group = new GroupCommit<ToEnqueue, boolean>({
      commit: async (batch) => {
        const entries = batch.map((j) => jobQueueEntry(j.jobId, j.agentId, j.priority));
        const work = entries.length === 1 ? queue.add(entries[0]!.name, entries[0]!.data, entries[0]!.opts) : queue.addBulk(entries);
        const taken = await doneWithin(work, timeoutMs);
        return batch.map(() => taken);
      },
      maxBatch: MAX_ADDS_PER_BULK,
      maxInFlight: MAX_BULKS_IN_FLIGHT,
    });
    perQueue.set(queue, group);
  }
  return group.add({ jobId, agentId, priority });
}
