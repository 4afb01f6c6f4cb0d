import type { Logger } from './logger.ts';
import { countStoreError } from './metrics/store-errors.ts';

/**
 * Work nobody waits for (a presence refresh, a publish, a cleanup on shutdown): its failure is
 * logged at `level` and goes no further. Node ends the process on a rejection nobody observes,
 * and a store outage makes every such promise reject, so a promise that is not awaited goes
 * through here or carries a catch of its own.
 */
export function inBackground(log: Logger, what: string, work: Promise<unknown>, level: 'debug' | 'warn' | 'error' = 'warn'): void {
  work.catch((err: unknown) => {
    countStoreError(err); // vmo_postgres_errors_total / vmo_redis_errors_total, when the error names its store
    log[level]({ err: messageOf(err) }, `${what} failed`);
  });
}

export interface BackgroundLoop {
  /** No new run starts; resolves once the one under way (if any) has settled. */
  stop(): Promise<void>;
}

/**
 * A maintenance loop: run `task`, wait `everyMs`, run it again, until stopped. Never two runs at
 * once, so a sweep slowed by an outage (each statement waits for the connect timeout) does not
 * pile up behind a timer; a run that fails is logged and the next one comes as usual. A run still
 * unsettled after `stuckAfterMs` (a statement the driver never answers) is logged and left to
 * itself, and the loop goes on: one lost answer must not stop a sweep for good.
 */
export function repeatInBackground(
  log: Logger,
  what: string,
  everyMs: number,
  task: () => Promise<unknown>,
  { stuckAfterMs = Math.max(60_000, 10 * everyMs) }: { stuckAfterMs?: number } = {},
): BackgroundLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      const run = task().then(
        () => undefined,
        (err: unknown) => {
          countStoreError(err);
          log.warn({ err: messageOf(err) }, `${what} failed`);
        },
      );
      let stuck: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => {
        stuck = setTimeout(() => {
          log.error({ stuckAfterMs }, `${what} has not finished; going on without it`);
          resolve();
        }, stuckAfterMs);
        stuck.unref();
      });
      current = Promise.race([run, gaveUp]).finally(() => {
        clearTimeout(stuck);
        if (!stopped) schedule();
      });
    }, everyMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

let netInstalled = false;

/**
 * Last resort for a rejection nothing observed, which is a bug (see `inBackground`): it is
 * logged at error level with its stack as "unhandled rejection", and the process carries on
 * instead of ending as Node would.
 *
 * Why carrying on is safe here: an unobserved promise is by definition one no caller is waiting
 * for, so no request, job or loop is blocked on it, and nothing it might have left undone is
 * lost for good: Postgres holds every job and every byte, and what lives elsewhere is redone by
 * a loop (the reconciler re-enqueues, the sweeps end jobs whose holder vanished, the presence
 * keys are refreshed, subscribers fill gaps from Postgres). Ending the process instead turns one
 * lost publish into an outage: every local and SSH job of a worker ends `lost`, every agent and
 * subscriber of an API node is cut. Synchronous uncaught exceptions still end the process (a
 * handler that threw halfway may have left its state half updated). The fault tests fail on the
 * log line, so the net hides nothing from them.
 */
export function logUnhandledRejections(log: Logger): void {
  if (netInstalled) return;
  netInstalled = true;
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason : messageOf(reason) }, 'unhandled rejection (a bug: a promise nobody awaited failed); carrying on');
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
