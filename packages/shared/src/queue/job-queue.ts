import { Queue, type ConnectionOptions } from 'bullmq';
import { bullPriority, DEFAULT_PRIORITY } from '../domain/run-at-and-priority.ts';

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
 * How every job is added to BullMQ, whoever adds it (a submission, a run's release, the
 * reconciler): under the same id as its Postgres row, so a second add of an id BullMQ still holds
 * is a no-op and the job runs at most once (the `queued → running` transition in Postgres guards
 * the rest); gone once done; one attempt (a retry is Postgres' decision, never BullMQ's); with the
 * job's priority (jobs.priority, 1–10; the default only for callers that have no row at hand).
 *
 * LOUD: the ONE place these options are written. An add elsewhere with other options (another
 * id, attempts > 1) could run a job twice or keep a stale entry that blocks a later re-add.
 */
export function jobQueueEntry(jobId: string, agentId: string | null, priority: number = DEFAULT_PRIORITY) {
  return {
    name: 'run',
    data: (agentId ? { jobId, agentId } : { jobId }) satisfies QueuedJobData,
    // The job's priority, always (domain bullPriority: BullMQ serves an entry without one first).
    // BullMQ keeps it across the worker's moves to the delayed set (a busy target, an offline agent).
    opts: { jobId, removeOnComplete: true, removeOnFail: { age: 24 * 3600 }, attempts: 1, priority: bullPriority(priority) },
  };
}

/**
 * Add one job (jobQueueEntry). False when Redis did not take it within `timeoutMs`: the job is
 * durable in Postgres and the reconciler enqueues it later.
 */
export async function enqueueJob(queue: Queue<QueuedJobData>, jobId: string, agentId: string | null, priority: number = DEFAULT_PRIORITY, timeoutMs = 2000): Promise<boolean> {
  const { name, data, opts } = jobQueueEntry(jobId, agentId, priority);
  return doneWithin(queue.add(name, data, opts), timeoutMs);
}

/** Whether `work` settled successfully within `timeoutMs` (it goes on in the background if not). */
export async function doneWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
