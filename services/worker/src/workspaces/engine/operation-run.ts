import type { ControlPlane } from '@vmo/shared/control-plane';
import { appendOperationLog } from '@vmo/shared/workspaces';
import { touchOperation } from './operation-store.ts';

/** Why a run's signal was aborted. */
export type AbortCause = 'canceled' | 'timed_out' | 'lost' | 'shutdown';

/** An error the engine ends an operation with, under its own code (else `provider_failed`). */
export class OperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One operation as this worker runs it: the signal handed to the provider, its log, the heartbeat
 * that keeps progress_at fresh (so no other worker takes it over) and reads back a cancel, and
 * the watchdog that fails it `timed_out` after `timeoutMs` without progress.
 *
 * Progress is a log line or a step, not the heartbeat: a provider stuck in one call with nothing to
 * say for timeoutMs is aborted even though this worker is alive and refreshing progress_at.
 */
export class OperationRun {
  readonly controller = new AbortController();
  cause: AbortCause | undefined;
  private lastProgress = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private lastTouch = Date.now();
  private logChain: Promise<unknown> = Promise.resolve();
  /** LOUD: secrets that must never reach the log (the agent token rotated for this run). */
  private readonly secrets = new Set<string>();

  constructor(
    private readonly cp: ControlPlane,
    readonly opId: string,
    private readonly workerId: string,
    private readonly timing: { timeoutMs: number; heartbeatMs: number },
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(cause: AbortCause): void {
    if (this.controller.signal.aborted) return;
    this.cause = cause;
    const words = { canceled: 'the operation was canceled', timed_out: 'the operation timed out', lost: 'the operation was taken over by another worker', shutdown: 'the worker is shutting down' };
    this.controller.abort(new Error(words[cause]));
  }

  /** Something happened: the watchdog starts over. */
  progress(): void {
    this.lastProgress = Date.now();
  }

  /** LOUD: register a secret (the agent token) so no log line carries it, whoever prints it. */
  addSecret(secret: string): void {
    if (secret) this.secrets.add(secret);
  }

  /**
   * A line for the operation's log: appended in order (one at a time, so seqs commit in order for
   * followers), with every registered secret replaced by [redacted]. Counts as progress.
   */
  log = (line: string): void => {
    this.progress();
    let clean = String(line);
    for (const s of this.secrets) clean = clean.split(s).join('[redacted]');
    this.logChain = this.logChain.then(async () => {
      await appendOperationLog(this.cp, this.opId, clean).catch((err: unknown) => this.cp.log.warn({ opId: this.opId, err: (err as Error).message }, 'workspace operation log line lost'));
      // A line is progress: progress_at moves with it (at most once a second for a chatty provider).
      if (Date.now() - this.lastTouch >= 1000) await this.beat();
    });
  };

  /** Every line logged so far is in Postgres (before the operation ends, so a follower that sees it ended has them all). */
  flushLog(): Promise<unknown> {
    return this.logChain;
  }

  start(): void {
    this.heartbeat = setInterval(() => void this.beat(), this.timing.heartbeatMs);
    this.heartbeat.unref();
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }

  private async beat(): Promise<void> {
    if (this.beating || this.controller.signal.aborted) return;
    this.beating = true;
    try {
      if (Date.now() - this.lastProgress > this.timing.timeoutMs) return this.abort('timed_out');
      this.lastTouch = Date.now();
      const status = await touchOperation(this.cp, this.opId, this.workerId);
      if (status === undefined) this.abort('lost');
      else if (status === 'canceling') this.abort('canceled');
    } catch (err) {
      // A Postgres blip: the next beat tries again (the takeover window is many beats long).
      this.cp.log.debug({ opId: this.opId, err: (err as Error).message }, 'workspace operation heartbeat failed');
    } finally {
      this.beating = false;
    }
  }
}

/**
 * The provider's promise, or, once `signal` aborted, whichever comes first of it and `graceMs`:
 * a provider that ignores its signal must not hold the operation (or the worker's shutdown) forever.
 */
export function untilSettledOrAbandoned<T>(work: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  work.catch(() => {}); // settles after we stopped waiting: nobody is listening then
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => reject(signal.reason ?? new Error('aborted')), graceMs);
      timer.unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
