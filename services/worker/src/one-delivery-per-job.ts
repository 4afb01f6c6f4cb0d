import type { Job } from 'bullmq';
import type { QueuedJobData } from '@vmo/shared/queue';

type Processor = (job: Job<QueuedJobData>, token?: string) => Promise<void>;

/**
 * At most one delivery of a job is processed at a time in this worker. A second one (BullMQ's
 * stalled check hands a job back when its lock lapsed while Redis was away, possibly to the
 * worker still processing it) waits for the first to finish and then returns: the first one
 * holds the job and ends it.
 *
 * LOUD: the `start` transition (jobs/lifecycle/sql/start-job.ts) relies on this. After the answer to its `queued → running` UPDATE was
 * lost, it concludes from a `running` row carrying this worker's id that its own UPDATE landed;
 * a second delivery starting the same job in this worker would break that conclusion and the
 * command could run twice.
 */
export function oneDeliveryPerJob(process: Processor): Processor {
  const active = new Map<string, Promise<void>>();
  return async (job, token) => {
    const { jobId } = job.data;
    const first = active.get(jobId);
    if (first) {
      await first.catch(() => undefined); // its failure is reported through its own delivery
      return;
    }
    const processing = process(job, token);
    active.set(jobId, processing);
    try {
      await processing;
    } finally {
      if (active.get(jobId) === processing) active.delete(jobId);
    }
  };
}
