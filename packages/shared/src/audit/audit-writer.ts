import type { Sql } from 'postgres';
import type { Logger } from 'pino';
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

interface Waiting {
  event: AuditEvent;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Appends audit rows for the API. `record()` resolves once the row is in Postgres, and the audit
 * middleware awaits it before the answer is sent: a request the client saw answered has its row,
 * even if the process dies the moment after.
 *
 * Concurrent requests share statements, as the log sink's producers do: with nothing in flight a
 * row goes at the end of the current tick (the requests of that tick with it); while an INSERT is
 * in flight, rows gather and go together when it returns. One row costs one round trip when the
 * API is quiet, and a busy API one statement for many rows.
 *
 * LOUD: a failing INSERT is retried for `retryForMs` (Postgres restarting, a failover), then the
 * callers' promises reject and the middleware logs each row it could not store at error, fields
 * and all, so the record survives in the log. A row Postgres refuses for its content is tried
 * alone, so it never takes its batch-mates down with it.
 */
export class AuditWriter {
  private pending: Waiting[] = [];
  private flushing = 0;
  private soon = false;
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private readonly maxBatchRows: number;
  private readonly retryForMs: number;
  /** Two statements at once overlap the round trip without taking the pool from the routes. */
  private readonly maxFlushing = 2;

  constructor(private readonly opts: AuditWriterOptions) {
    this.maxBatchRows = opts.maxBatchRows ?? 500;
    this.retryForMs = opts.retryForMs ?? 10_000;
  }

  /** Resolves when the row is stored; rejects if it could not be (the caller logs it). */
  record(event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit writer is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ event: storableAuditEvent(event), resolve, reject });
      if (this.flushing < this.maxFlushing) this.kickSoon();
    });
  }

  /** The id of the agent, host or user a request's path names (resource-id-of-name.ts), from the writer's own connection. */
  resourceIdOfName(resourceType: string, ref: string): Promise<string | undefined> {
    return resourceIdOfName(this.opts.sql, resourceType, ref);
  }

  /** Waits until every row recorded so far is stored or given up. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.inflight.size > 0) {
      this.kick();
      await Promise.race(this.inflight);
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  private kickSoon(): void {
    if (this.soon) return;
    this.soon = true;
    queueMicrotask(() => {
      this.soon = false;
      this.kick();
    });
  }

  private kick(): void {
    while (this.flushing < this.maxFlushing && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatchRows);
      this.flushing++;
      const done: Promise<void> = this.flush(batch).finally(() => {
        this.inflight.delete(done);
        this.flushing--;
        // What arrived during this flush goes next, together.
        if (this.pending.length > 0) this.kick();
      });
      this.inflight.add(done);
    }
  }

  private async flush(batch: Waiting[]): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await insertAuditEvents(this.opts.sql, batch.map((w) => w.event));
        for (const w of batch) w.resolve();
        return;
      } catch (err) {
        if (refusedForContent(err)) return this.flushOneByOne(batch);
        if (Date.now() - started >= this.retryForMs) {
          for (const w of batch) w.reject(err as Error);
          return;
        }
        if (attempt === 0) this.opts.log.warn({ err, rows: batch.length }, 'audit insert failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }

  /** After a content error: each row alone, so only the row Postgres refuses is lost (and logged by its caller). */
  private async flushOneByOne(batch: Waiting[]): Promise<void> {
    for (const w of batch) {
      try {
        await insertAuditEvents(this.opts.sql, [w.event]);
        w.resolve();
      } catch (err) {
        w.reject(err as Error);
      }
    }
  }
}

/**
 * SQLSTATE classes that say "this data", not "this connection": 22 data exception, 23 integrity
 * constraint, 42 syntax or undefined object (a column missing during a botched deploy counts: no
 * retry fixes it). Anything else (no code: a socket error; 08 connection; 57 shutdown; 53
 * resources) is worth retrying.
 */
function refusedForContent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|42)/.test(code);
}
