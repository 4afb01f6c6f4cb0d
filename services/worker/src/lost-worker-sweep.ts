import type { ControlPlane } from '@vmo/shared/control-plane';
import { workerLostAfterMs } from '@vmo/shared/domain';
import { runningWorkerJobs, transition } from '@vmo/shared/jobs';
import { endLostWorkerJob } from './end-lost-worker-job.ts';
import type { OwnJobs } from './own-jobs.ts';
import { isWorkerAlive } from './worker-presence.ts';

/**
 * Jobs that run inside a worker (local, ssh) die with it. A running job whose worker's presence
 * key has been missing for two TTLs is ended `lost`. Two TTLs, watched continuously, because
 * a Redis restart empties every key and live workers need a refresh interval to put theirs back:
 * a live worker's jobs must never be declared lost.
 *
 * And this worker's own: a `running` row under this process's worker id that it does not hold
 * (own-jobs.ts) is a job whose end Postgres lost after acknowledging it (an asynchronous
 * failover: the promoted standby never got the write). Its worker is alive, so the presence
 * check above never ends it, and nobody else can tell: it would stay `running` FOREVER. It is
 * ended here with the end this worker wrote (fenced by its attempt: if that write did land
 * meanwhile, this one matches nothing), or, when that is no longer remembered, `lost`.
 */
export class LostWorkerSweep {
  private readonly missingSince = new Map<string, number>();

  constructor(
    private readonly cp: ControlPlane,
    private readonly presenceTtlMs: number,
    private readonly own?: { workerId: string; jobs: OwnJobs },
  ) {}

  async run(): Promise<void> {
    const { cp } = this;
    // LOUD: read BEFORE asking whether a job is held. A job is held from before its start is
    // written (own-jobs.ts), so a row read `running` under this worker was held by then; not held
    // afterwards means its delivery has finished with it. Asked the other way round, a job started
    // and held between the two looks would be ended while it runs.
    const rows = await runningWorkerJobs(cp.database.sql, this.presenceTtlMs);
    const now = Date.now();
    const seen = new Set<string>();
    for (const row of rows) {
      const worker = row.workerId ?? '';
      if (this.own && worker === this.own.workerId) {
        if (!this.own.jobs.holds(row.id)) await this.endOwnUnheld(row);
        continue;
      }
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

  private async endOwnUnheld(row: { id: string; attempt: number; workerId: string | null }): Promise<void> {
    const { cp } = this;
    const remembered = this.own!.jobs.endOf(row.id, row.attempt);
    const written = remembered
      ? await transition(cp, row.id, remembered)
      : await transition(cp, row.id, {
          kind: 'end',
          from: 'running',
          attempt: row.attempt,
          status: 'lost',
          error: { code: 'worker_lost', message: `worker ${row.workerId} no longer held the job and its end was not recorded (lost in a Postgres failover?)` },
        });
    if (written) {
      cp.log.warn(
        { jobId: row.id, attempt: row.attempt, status: written.status, remembered: Boolean(remembered) },
        remembered ? "a job's end was lost; written again" : "a job's end was lost and is not remembered; ended lost",
      );
    }
  }
}
