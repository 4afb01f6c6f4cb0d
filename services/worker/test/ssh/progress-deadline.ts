/**
 * Deadlines for SSH tests that scale with the machine (issue 8, finding 5): an SSH session costs
 * ~0.1 s on a quiet fast machine and ~0.8 s on a loaded slow one, so a wall-clock deadline for
 * N jobs is either loose or flaky. Instead a test measures what a session costs here, now, and
 * fails only when no job has finished for a stretch that is many times that cost: a hang is
 * caught, slowness is not punished.
 */

/** Median wall time of `samples` runs of `once` (each should be a whole job, dial included). */
export async function measureMs(once: () => Promise<unknown>, samples = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** How long without any job finishing counts as stuck, for a measured session cost. */
export const stallAfterMs = (sessionMs: number) => Math.max(15_000, 40 * sessionMs);

/** Fails `guard`ed work when no `track`ed job has settled for `stallMs`. */
export class ProgressDeadline {
  private last = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly stalled: Promise<never>;

  constructor(what: string, readonly stallMs: number) {
    let fail!: (err: Error) => void;
    this.stalled = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.stalled.catch(() => {});
    this.timer = setInterval(() => {
      if (Date.now() - this.last > stallMs) fail(new Error(`${what}: no job finished for ${stallMs} ms (stuck, not slow)`));
    }, 250);
  }

  /** A job whose end counts as progress. */
  track<T>(job: Promise<T>): Promise<T> {
    return job.finally(() => {
      this.last = Date.now();
    });
  }

  /** `work`, unless progress stops first. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.stalled]);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
