import type { Logger } from '@vmo/shared/logger';
import { countStoreError } from '@vmo/shared/metrics';

/**
 * Run `write` until it succeeds, backing off up to 2 s between tries. For the writes that end a
 * job: if one failed for good while Postgres was unreachable, the job would stay `running` with
 * a live worker, and no sweep would ever end it.
 *
 * LOUD: only for idempotent, fenced writes (the lifecycle's `end` and `exit` transitions): a retry after a write that landed but
 * whose answer was lost must be harmless.
 */
export async function retryUntilDone<T>(what: string, log: Logger, write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      countStoreError(err, 'postgres'); // every failed try (Postgres writes): an outage shows in vmo_postgres_errors_total as it lasts
      if (attempt === 0 || attempt % 30 === 0) log.warn({ err: (err as Error).message, attempt }, `${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
  }
}
