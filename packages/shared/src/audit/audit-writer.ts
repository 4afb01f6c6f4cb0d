import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { GroupCommit } from '../batch/group-commit.ts';
import { refusedForContent } from '../db/pg-error-code.ts';
import type { AuditEvent } from './audit-event.ts';
import { insertAuditEvents } from './insert-audit-events.ts';
import { resourceIdOfName } from './resource-id-of-name.ts';
import { storableAuditEvent } from './storable-audit-event.ts';

export interface AuditWriterOptions {
  sql: Sql;
  log: Logger;
  /** At most this many rows per INSERT. */
  maxBatchRows?: number;
  /** A batch whose INSERT keeps failing (Postgres away) is retried this long, then its callers are told. */
  retryForMs?: number;
}

/**
 * Appends audit rows for the API. `record()` resolves once the row is in Postgres, and the audit
 * middleware awaits it before the answer is sent: a request the client saw answered has its row,
 * even if the process dies the moment after.
 *
 * Concurrent requests share statements (GroupCommit, batch/group-commit.ts, as the submit path's
 * job inserts and token lookups do): with a statement free, a row goes at the end of the current
 * turn of the event loop (the requests of that turn with it); while both are in flight, rows
 * gather and go together when one returns. One row costs one round trip when the API is quiet,
 * and a busy API one statement for many rows.
 *
 * LOUD: a failing INSERT is retried for `retryForMs` (Postgres restarting, a failover), then the
 * callers' promises reject and the middleware logs each row it could not store at error, fields
 * and all, so the record survives in the log. A row Postgres refuses for its content is tried
 * alone, so it never takes its batch-mates down with it.
 */
export class AuditWriter {
  private readonly rows: GroupCommit<AuditEvent, void>;
  private closed = false;
  private readonly retryForMs: number;

  constructor(private readonly opts: AuditWriterOptions) {
    this.retryForMs = opts.retryForMs ?? 10_000;
    this.rows = new GroupCommit<AuditEvent, void>({
      commit: async (events) => {
        await this.insertRetrying(events);
        return events.map(() => undefined);
      },
      // After a content error: each row alone, so only the row Postgres refuses is lost (and logged by its caller).
      alone: (event) => insertAuditEvents(opts.sql, [event]),
      aloneWhen: refusedForContent,
      maxBatch: opts.maxBatchRows ?? 500,
      // Two statements at once overlap the round trip without taking the pool from the routes.
      maxInFlight: 2,
      // LOUD: a write, awaited before the answer goes out. A batch past its deadline (a lock, a
      // black-holed connection) only frees its slot ('wait'): its requests keep waiting for the
      // INSERT's real outcome, so an answer the client saw still has its row. Rejecting them
      // would log rows at error that may yet land in the table as well (the record twice). Past
      // the deadline of retryForMs plus one attempt's worth: a batch still inside its retries
      // (Postgres restarting) is not hung. At two overdue and open, new rows are refused at once,
      // never sent: the middleware logs each at error (storeOrLog), the record kept, and once.
      deadlineMs: this.retryForMs + 5_000,
      whenOverdue: 'wait',
      maxOverdue: 2,
      label: 'the audit insert',
    });
  }

  /** Resolves when the row is stored; rejects if it could not be (the caller logs it). */
  record(event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit writer is closed'));
    return this.rows.add(storableAuditEvent(event));
  }

  /** The id of the agent, host or user a request's path names (resource-id-of-name.ts), from the writer's own connection. */
  resourceIdOfName(resourceType: string, ref: string): Promise<string | undefined> {
    return resourceIdOfName(this.opts.sql, resourceType, ref);
  }

  /** Waits until every row recorded so far is stored or given up. */
  drain(): Promise<void> {
    return this.rows.drain();
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  /** The batch's INSERT, retried while the failure is not the rows' own, for up to retryForMs. */
  private async insertRetrying(events: readonly AuditEvent[]): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await insertAuditEvents(this.opts.sql, events);
        return;
      } catch (err) {
        if (refusedForContent(err) || Date.now() - started >= this.retryForMs) throw err;
        if (attempt === 0) this.opts.log.warn({ err, rows: events.length }, 'audit insert failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }
}
