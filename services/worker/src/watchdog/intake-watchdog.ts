import type { Logger } from 'pino';

/** The exit status of a worker that found itself stuck: its supervisor restarts it (EX_SOFTWARE). */
export const STUCK_EXIT_CODE = 70;

export interface IntakeSample {
  /** Jobs BullMQ holds ready for any worker (wait + prioritized); undefined when Redis did not answer in time. */
  waiting: number | undefined;
  /** Deliveries this worker is processing now. */
  active: number;
}

/**
 * Proves that a worker still takes jobs, not only that its BullMQ worker says it is running
 * (issue 19): a worker with a free slot, while jobs wait, takes one within milliseconds. Jobs
 * waiting the whole time for `stuckMs` with a slot free and nothing taken means its way to the
 * queue is wedged (a blocking connection parked for good: BullMQ #4138, #4378) even though
 * each of its connections may still answer. A Redis that does not answer at all is not this
 * (the connections' own deadline reopens them, redis.ts) and does not count.
 *
 * Times are a MONOTONIC clock's (performance.now): a wall-clock step (NTP, a VM's clock synced on
 * resume) is no stall. Every `now` given must come from the same clock.
 */
export class IntakeWatch {
  private lastTakenAt: number;
  private waitingSince: number | undefined;

  constructor(
    private readonly concurrency: number,
    private readonly stuckMs: number,
    now: number,
  ) {
    this.lastTakenAt = now;
  }

  /** A delivery began (the processor was called). */
  took(now: number): void {
    this.lastTakenAt = now;
  }

  /**
   * The whole process was frozen (a VM pause, SIGSTOP): nobody could take a job meanwhile, so the
   * wait starts over from `now` instead of counting the freeze against the worker.
   */
  thawed(now: number): void {
    this.waitingSince = undefined;
    this.lastTakenAt = now;
  }

  /** What a sample says; `stuckForMs` once the worker is to be restarted. */
  observe(sample: IntakeSample, now: number): { stuckForMs?: number } {
    if (sample.waiting === undefined || sample.waiting === 0 || sample.active >= this.concurrency) {
      this.waitingSince = undefined;
      return {};
    }
    this.waitingSince ??= now;
    const since = Math.max(this.waitingSince, this.lastTakenAt);
    return now - since >= this.stuckMs ? { stuckForMs: now - since } : {};
  }
}

export interface IntakeWatchdog {
  /** Wrap the BullMQ processor: every delivery counts as taken. */
  counting<A extends unknown[]>(processor: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
  stop(): void;
}

/**
 * Every `everyMs`, samples the queue and this worker's free slots. Once stuck: one error line,
 * then exit STUCK_EXIT_CODE for the supervisor to start a fresh process (new connections, new
 * BullMQ worker). Its running local jobs then end as a crashed worker's do (README, Guarantees).
 *
 * LOUD: a wrong verdict here kills a healthy worker, and every local job it runs ends `lost`. So
 * as the watchdog thread does (event-loop-watchdog.ts): a monotonic clock (`now`, injectable for
 * tests), and when a tick of its own, or the answer to its sample, comes later than half the limit
 * past its time, the whole process was frozen (a VM pause, SIGSTOP; or its own event loop stood
 * still, which is the thread's to judge): the wait starts over instead of judging the worker on
 * time it had no chance to use.
 */
export function startIntakeWatchdog(opts: {
  concurrency: number;
  stuckMs: number;
  everyMs: number;
  countWaiting: () => Promise<number>;
  log: Logger;
  exit?: (code: number) => void;
  /** A monotonic clock in ms (performance.now); never the wall clock. */
  now?: () => number;
}): IntakeWatchdog {
  const now = opts.now ?? (() => performance.now()); // the global one: what fake timers stand in for in the tests
  const watch = new IntakeWatch(opts.concurrency, opts.stuckMs, now());
  const frozenAfterMs = opts.stuckMs / 2;
  let active = 0;
  let sampling = false;
  let tickAt = now();
  const timer = setInterval(() => {
    const tick = now();
    const late = tick - tickAt - opts.everyMs;
    tickAt = tick;
    if (late > frozenAfterMs) watch.thawed(tick);
    if (sampling) return;
    sampling = true;
    const deadline = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), opts.everyMs).unref());
    void Promise.race([opts.countWaiting().catch(() => undefined), deadline])
      .then((waiting) => {
        const answeredAt = now();
        // The sample's deadline is everyMs: an answer much later than that means the process
        // was frozen while it waited (the deadline's timer could not fire either).
        if (answeredAt - tick - opts.everyMs > frozenAfterMs) {
          watch.thawed(answeredAt);
          return;
        }
        const { stuckForMs } = watch.observe({ waiting, active }, answeredAt);
        if (stuckForMs === undefined) return;
        clearInterval(timer);
        opts.log.error(
          { waiting, active, concurrency: opts.concurrency, stuckForMs },
          `worker stuck: ${waiting} job(s) waiting and ${opts.concurrency - active} slot(s) free, yet no job taken for ${Math.round(stuckForMs / 1000)} s; exiting ${STUCK_EXIT_CODE} for the supervisor to restart it`,
        );
        (opts.exit ?? process.exit)(STUCK_EXIT_CODE);
      })
      .finally(() => (sampling = false));
  }, opts.everyMs);
  timer.unref();
  return {
    counting(processor) {
      return async (...args) => {
        watch.took(now());
        active++;
        try {
          await processor(...args);
        } finally {
          active--;
        }
      };
    },
    stop: () => clearInterval(timer),
  };
}
