import type { ControlPlane } from '@vmo/shared/control-plane';
import { workerLostAfterMs } from '@vmo/shared/domain';
import { runningWorkerJobs } from '@vmo/shared/jobs';
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
    const rows = await runningWorkerJobs(cp.database.sql, this.presenceTtlMs);
    const now = Date.now();
    const seen = new Set<string>();
    for (const row of rows) {
      const worker = row.workerId ?? '';
      seen.add(worker);
      if (await isWorkerAlive(cp.redis, cp.keys, row.workerId)) {
        this.missingSince.delete(worker);
        continue;
      }
      const since = this.missingSince.get(worker) ?? now;
      this.missingSince.set(worker, since);
      if (now - since < workerLostAfterMs(this.presenceTtlMs)) continue;
      await endLostWorkerJob(cp, row);
    }
    for (const worker of this.missingSince.keys()) if (!seen.has(worker)) this.missingSince.delete(worker);
  }
}
