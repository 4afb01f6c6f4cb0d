import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { publishJobOutput, type BusConnection } from '../bus/publish.ts';
import type { OutputChunk } from '../bus/messages/job-output.ts';
import { outputRowKey, type OutputRow } from './insert-output-batch.ts';
import { storeOutputBatch } from './store-output-batch.ts';
import { countPostgresError, outputBytesStored } from '../metrics/index.ts';

export interface LogSinkOptions {
  sql: Sql;
  /** Where durable batches are published (BUS.md §4): a command connection, never a subscriber. */
  bus: BusConnection;
  log: Logger;
  /** Flush when this much is waiting… */
  maxBatchBytes?: number;
  /** …or this long after the first chunk arrived. */
  maxDelayMs?: number;
}

/**
 * A producer waiting for its rows. `holders` counts the batches (pending or in flight) that still
 * carry some of its rows: it is acknowledged when the last of them is durable.
 */
interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  holders: number;
}

interface Pending {
  rows: OutputRow[];
  bytes: number;
  waiters: Waiter[];
}

/** A batch taken for a flush, until it is published: `inserted` is set once it is durable (null: nothing to publish). */
interface Unpublished {
  rows: OutputRow[];
  inserted?: Set<string> | null;
}

/**
 * Durable chunks wait for earlier batches of their job so that each job's channel carries its seqs
 * in order (publishInOrder); past this many batches unpublished, they go out as they are (a batch
 * retrying through an outage must not make the sink hold every later batch's bytes).
 */
const MAX_HELD_FOR_ORDER = 8;

/**
 * The one way output reaches Postgres and subscribers. Producers call `append` and are
 * acknowledged (the promise resolves) only once their chunks are durable; then the batch is
 * published on each job's channel.
 *
 * LOUD: a batch whose insert fails is retried until it succeeds; its producers stay blocked
 * meanwhile, which is the backpressure that keeps memory bounded while Postgres is away. Nothing
 * is dropped and nothing is acknowledged early. `close()` drains first, so a shutdown during an
 * outage waits for Postgres (a second SIGTERM exits at once).
 */
export class LogSink {
  private pending: Pending = { rows: [], bytes: 0, waiters: [] };
  private timer: NodeJS.Timeout | undefined;
  private flushing = 0;
  private soon = false;
  private readonly inflight = new Set<Promise<void>>();
  /** Batches in the order they were taken, until published (publishInOrder). */
  private readonly unpublished: Unpublished[] = [];
  private closed = false;
  private readonly maxBatchBytes: number;
  private readonly maxDelayMs: number;
  /** Concurrent statements: two overlap the network round trip without hogging the pool. */
  private readonly maxFlushing = 2;

  constructor(private readonly opts: LogSinkOptions) {
    // 1 MiB: a batch is only this large when output arrives faster than it is stored (batches form
    // behind the flushes in flight), and then each batch's fixed cost (a transaction of five round
    // trips by COPY, one bus message, one ack to the producer) is spread over 4× the bytes of the
    // former 256 KiB (issue 16). Redis takes messages of this size well below its subscriber limits.
    this.maxBatchBytes = opts.maxBatchBytes ?? 1024 * 1024;
    this.maxDelayMs = opts.maxDelayMs ?? 4;
  }

  append(rows: OutputRow[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('log sink is closed'));
    if (rows.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const p = this.pending;
      for (const r of rows) {
        p.rows.push(r);
        p.bytes += r.data.length;
      }
      // Held by the pending batch; a split below adds the part that goes ahead.
      p.waiters.push({ resolve, reject, holders: 1 });
      if (p.bytes >= this.maxBatchBytes) this.kick();
      else if (this.flushing === 0) this.kickSoon();
      else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
    });
  }

  /** Waits until everything appended so far is durable. */
  async drain(): Promise<void> {
    while (this.pending.rows.length > 0 || this.inflight.size > 0) {
      this.kick();
      await Promise.race(this.inflight);
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    clearTimeout(this.timer);
  }

  /**
   * Nothing in flight: flush at the end of this tick (appends of the same tick share the
   * statement) rather than after the batching delay, which would only add latency. Batching
   * happens on its own behind a flush that is already running.
   */
  private kickSoon(): void {
    if (this.soon) return;
    this.soon = true;
    queueMicrotask(() => {
      this.soon = false;
      this.kick();
    });
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing < this.maxFlushing && this.pending.rows.length > 0) {
      const batch = this.take();
      const slot: Unpublished = { rows: batch.rows };
      this.unpublished.push(slot);
      this.flushing++;
      const done: Promise<void> = this.flush(batch, slot).finally(() => {
        this.inflight.delete(done);
        this.flushing--;
        // What arrived during this flush has waited long enough: it goes next.
        if (this.pending.rows.length > 0) this.kick();
      });
      this.inflight.add(done);
    }
  }

  /** Takes up to maxBatchBytes of rows. */
  private take(): Pending {
    const p = this.pending;
    if (p.bytes <= this.maxBatchBytes) {
      this.pending = { rows: [], bytes: 0, waiters: [] };
      return p;
    }
    // Split. LOUD: both parts may be in flight at once and the remainder may land first, so every
    // waiter of the split goes with both parts and is acknowledged only when both are durable.
    // (Which waiter owns which row is not tracked; waiting for both is merely conservative.)
    let bytes = 0;
    let n = 0;
    while (n < p.rows.length && (n === 0 || bytes + p.rows[n]!.data.length <= this.maxBatchBytes)) {
      bytes += p.rows[n]!.data.length;
      n++;
    }
    for (const w of p.waiters) w.holders++;
    const batch: Pending = { rows: p.rows.slice(0, n), bytes, waiters: [...p.waiters] };
    this.pending = { rows: p.rows.slice(n), bytes: p.bytes - bytes, waiters: p.waiters };
    return batch;
  }

  private async flush(batch: Pending, slot: Unpublished): Promise<void> {
    let inserted: Set<string> | undefined;
    for (let attempt = 0; !inserted; attempt++) {
      try {
        // Bounded: postgres.js can leave a query unsettled when a connection is closed while it
        // starts up (porsager/postgres#1193). Retrying is safe: the insert is idempotent.
        inserted = await withDeadline(storeOutputBatch(this.opts.sql, dedupe(batch.rows)), INSERT_DEADLINE_MS);
      } catch (err) {
        countPostgresError(err);
        if (this.closed) {
          for (const w of batch.waiters) w.reject(err as Error);
          slot.inserted = null;
          this.publishInOrder();
          return;
        }
        if (attempt === 0 || attempt % 50 === 0) this.opts.log.warn({ err, attempt }, 'output batch insert failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
    for (const w of batch.waiters) if (--w.holders === 0) w.resolve();
    slot.inserted = inserted;
    this.publishInOrder();
  }

  /**
   * Publishes each job's durable chunks in the order their batches were taken. Two flushes run at
   * once and the later one often commits first: published as they committed, a subscriber saw a
   * gap in the seqs at every such pair and read the missing batch back from Postgres
   * (job-stream.ts), and the live batch after it too; that read-back was ~6 % of the API's CPU in
   * the output benchmark (issue 16). A job's chunks wait only for earlier batches that carry the
   * same job, never for other jobs' (a job whose statement waits on a lock holds up no one else).
   */
  private publishInOrder(): void {
    const q = this.unpublished;
    const flood = q.length > MAX_HELD_FOR_ORDER;
    /** Jobs with chunks in an earlier batch that is not published yet. */
    const waiting = new Set<string>();
    for (let i = 0; i < q.length; ) {
      const slot = q[i]!;
      if (slot.inserted === undefined) {
        for (const r of slot.rows) waiting.add(r.jobId);
        i++;
        continue;
      }
      const now = flood || waiting.size === 0 ? slot.rows : slot.rows.filter((r) => !waiting.has(r.jobId));
      if (slot.inserted && now.length > 0) this.publish(now, slot.inserted);
      if (now.length === slot.rows.length) {
        q.splice(i, 1);
        continue;
      }
      slot.rows = slot.rows.filter((r) => waiting.has(r.jobId));
      i++;
    }
  }

  private publish(rows: OutputRow[], inserted: Set<string>): void {
    const byJob = new Map<string, OutputChunk[]>();
    for (const r of rows) {
      if (!inserted.delete(outputRowKey(r))) continue;
      outputBytesStored.inc(r.data.length);
      let chunks = byJob.get(r.jobId);
      if (!chunks) byJob.set(r.jobId, (chunks = []));
      chunks.push({ attempt: r.attempt, seq: r.seq, stream: r.stream, data: r.data });
    }
    // Best effort (not awaited): subscribers fill any gap from Postgres, so a lost publish loses nothing.
    for (const [jobId, chunks] of byJob) void publishJobOutput(this.opts.bus, jobId, chunks);
  }
}

const INSERT_DEADLINE_MS = 30_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`output insert did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** A batch may hold the same (job, attempt, seq) twice (a retransmit racing the original): keep the first. */
function dedupe(rows: OutputRow[]): OutputRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = outputRowKey(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
