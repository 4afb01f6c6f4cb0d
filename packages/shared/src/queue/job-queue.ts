import { Queue, type ConnectionOptions } from 'bullmq';

export const JOB_QUEUE = 'jobs';

/** BullMQ job data: only the id. Postgres holds the job; the queue only says "run this one". */
export interface QueuedJobData {
  jobId: string;
  /**
   * The agent of an agent job, so the worker can check its presence before touching Postgres.
   * A hint only: the worker's `queued → running` update matches it against the row.
   */
  agentId?: string;
}

export function createJobQueue(connection: ConnectionOptions, bullPrefix: string): Queue<QueuedJobData> {
  return new Queue<QueuedJobData>(JOB_QUEUE, { connection, prefix: bullPrefix });
}

/**
 * Add the BullMQ job under the same id as the Postgres row. A second add of an id that BullMQ
 * still holds is a no-op, so the API and the reconciler may both add it: the job runs at most
 * once (and the `queued → running` transition in Postgres guards the rest).
 */
export async function enqueueJob(queue: Queue<QueuedJobData>, jobId: string, agentId: string | null, timeoutMs = 2000): Promise<boolean> {
  const data: QueuedJobData = agentId ? { jobId, agentId } : { jobId };
  const add = queue.add('run', data, { jobId, removeOnComplete: true, removeOnFail: { age: 24 * 3600 }, attempts: 1 });
  add.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([add.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
