import type { ControlPlane } from '@vmo/shared/control-plane';
import { queuedJobsOlderThan } from '@vmo/shared/jobs';
import { enqueueJob } from '@vmo/shared/queue';

/**
 * Redis is transport only: if it lost a queued job (restart without persistence, a failed add
 * while it was down), Postgres still has the row. Re-add every released `queued` job BullMQ does
 * not know, under the same id, so it runs at most once. Jobs released less than `minAgeMs` ago
 * are skipped: the API (or a run's roll-up) may still be adding them. A run's held children are
 * never enqueued here: only their run's roll-up releases them (queuedJobsOlderThan).
 */
export async function reconcileQueuedJobs(cp: ControlPlane, minAgeMs = 5000): Promise<number> {
  const rows = await queuedJobsOlderThan(cp.database.sql, minAgeMs);
  let added = 0;
  for (const { id, agentId } of rows) {
    const known = await cp.queue.getJob(id);
    if (known && !(await known.isCompleted()) && !(await known.isFailed())) continue;
    if (known) await known.remove().catch(() => {});
    if (await enqueueJob(cp.queue, id, agentId)) added++;
  }
  if (added > 0) cp.log.warn({ added }, 'reconciler re-enqueued queued jobs unknown to BullMQ');
  return added;
}
