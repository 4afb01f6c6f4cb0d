import type { ControlPlane } from '@vmo/shared/control-plane';
import { endLostWorkerJob } from './end-lost-worker-job.ts';
import { isWorkerAlive } from './worker-presence.ts';

/**
 * Jobs that run inside a worker (local, ssh) die with it. A running job whose worker's presence
 * key has been missing for two TTLs is ended `lost`. Two TTLs, watched continuously, because
 * a Redis restart empties every key and live workers need a refresh interval to put theirs back:
 * a live worker's jobs must never be declared lost.
 */
export class LostWorkerSweep {
  private readonly missingSince = new Map<string, number>();

  constructor(
    private readonly cp: ControlPlane,
    private readonly presenceTtlMs: number,
  ) {}

  async run(): Promise<void> {
    const { cp } = this;
    const rows = await cp.database.sql<{ id: string; attempt: number; worker_id: string | null }[]>`
      select id, attempt, worker_id from jobs
      where status = 'running' and agent_id is null
        and started_at < clock_timestamp() - ${this.presenceTtlMs} * interval '1 millisecond'
      limit 1000`;
    const now = Date.now();
    const seen = new Set<string>();
    for (const row of rows) {
      const worker = row.worker_id ?? '';
      seen.add(worker);
      if (await isWorkerAlive(cp.redis, cp.keys, row.worker_id)) {
        this.missingSince.delete(worker);
        continue;
      }
      const since = this.missingSince.get(worker) ?? now;
      this.missingSince.set(worker, since);
      if (now - since < 2 * this.presenceTtlMs) continue;
      await endLostWorkerJob(cp, { id: row.id, attempt: row.attempt, workerId: row.worker_id });
    }
    for (const worker of this.missingSince.keys()) if (!seen.has(worker)) this.missingSince.delete(worker);
  }
}
