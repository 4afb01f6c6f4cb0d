import type { JobChange } from '@vmo/shared/jobs';

/** How long, and how many, ends of this worker's jobs are remembered (see OwnJobs). */
export const REMEMBER_MS = 10 * 60_000;
export const REMEMBER_MAX = 50_000;

/**
 * The jobs this worker process holds, and the ends it wrote for them: what its own-jobs sweep
 * (lost-worker-sweep.ts) needs to tell a job it runs from one whose end Postgres lost.
 *
 * An asynchronous Postgres failover loses what the old primary committed and had not yet sent:
 * a job's end, acknowledged to this worker, may be gone on the promoted standby, which then shows
 * the job `running` under this (live) worker, and no one else would ever end it. A `running` row
 * under this worker's id that it does not hold can only be such a job: it is held from before its
 * start is written until its end is acknowledged (see `hold`).
 *
 * LOUD: `hold` must come BEFORE the `queued → running` write and `release` only AFTER the end's
 * write was acknowledged (or the delivery gave up on the job): a job held any shorter would be
 * ended by the sweep while its command still runs.
 */
export class OwnJobs {
  private readonly held = new Map<string, number>();
  /** `${jobId}:${attempt}` → the end written, and when; oldest first (insertion order). */
  private readonly ends = new Map<string, { change: JobChange; at: number }>();

  hold(jobId: string): void {
    this.held.set(jobId, (this.held.get(jobId) ?? 0) + 1);
  }

  release(jobId: string): void {
    const n = (this.held.get(jobId) ?? 1) - 1;
    if (n > 0) this.held.set(jobId, n);
    else this.held.delete(jobId);
  }

  holds(jobId: string): boolean {
    return this.held.has(jobId);
  }

  /** The end about to be written for this attempt (an `exit` or an `end`, fenced by the attempt). */
  remember(jobId: string, attempt: number, change: JobChange, now = Date.now()): void {
    const key = `${jobId}:${attempt}`;
    this.ends.delete(key); // to the back of the line
    this.ends.set(key, { change, at: now });
    for (const [k, v] of this.ends) {
      if (this.ends.size <= REMEMBER_MAX && now - v.at <= REMEMBER_MS) break;
      this.ends.delete(k);
    }
  }

  /** The end this worker wrote for that attempt, if it still remembers it. */
  endOf(jobId: string, attempt: number): JobChange | undefined {
    return this.ends.get(`${jobId}:${attempt}`)?.change;
  }
}
