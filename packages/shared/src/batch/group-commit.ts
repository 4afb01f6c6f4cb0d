import { BatchOverdue } from './batch-overdue.ts';

/**
 * Group commit: what callers hand in at about the same time goes to the store in one statement,
 * and each caller is answered with its own item's outcome once that statement is done.
 *
 * When a batch goes:
 * - a slot is free (fewer than `maxInFlight` batches running): at the end of the current turn of
 *   the event loop (setImmediate), or after `windowMs` when it is set; what arrived in that turn
 *   (the requests Node parsed from the same poll) goes together. One quiet caller waits for
 *   nothing but that turn: its latency is its statement's, as without a batcher;
 * - every slot taken: items gather, and the first slot to come free takes them all (up to
 *   `maxBatch`) at once. This is where batches grow: under load, by themselves, with no timer.
 * - `maxBatch` items waiting and a slot free: at once.
 *
 * Outcomes, per item:
 * - `commit` answers one outcome per item, in order: a value, or an Error for that item alone (a
 *   job naming an unknown agent), which rejects that caller only.
 * - `commit` throws: with `alone` given, more than one item in the batch and an error `aloneWhen`
 *   accepts, each item is tried on its own through `alone`, so each caller gets exactly what it would have got without the
 *   batcher (a row Postgres refuses for its content takes nobody else down with it; an outage
 *   fails each the way it would have failed alone). Without `alone`, every caller gets the error.
 *
 * LOUD: an item is never answered before `commit` (or `alone`) has returned its outcome: whoever
 * waits on `add()` may rely on it as on the single statement (a 2xx after it means durable).
 * LOUD: an item added while a batch is in flight never joins that batch; it goes in a later one,
 * which starts after it was added. A read (a token lookup) therefore always sees what was
 * committed before its request arrived, as an unbatched read would.
 *
 * Deadline (a statement that never settles: a black-holed connection, a lock wait). A batch not
 * settled `deadlineMs` after it went is OVERDUE: it gives its slot up, so the batches behind it
 * go, and its callers get what `whenOverdue` says:
 * - 'wait' (the default, and the only choice for a write): nothing. They keep waiting for the
 *   statement's own outcome, whenever it comes; only the slot was freed. A write past its
 *   deadline may still commit, so it can be neither answered 2xx (not durable yet) nor "failed"
 *   (the client would retry, and the first may still land: the work done twice).
 * - 'reject' (reads only): rejected at once with BatchOverdue (503); the late outcome is dropped
 *   (a promise settles once: no double answer, and a late error is nobody's unhandled rejection).
 * At most `maxOverdue` batches are overdue and still open: at that many, every item waiting and
 * every new one is refused at once with BatchOverdue (`refused`: never sent, so safe to retry),
 * until one of them settles. A dead store thus never holds more than maxInFlight + maxOverdue
 * statements (and pool connections) of one GroupCommit, however many callers come.
 * A caller under 'reject' waits at most two deadlines: one for a slot (each frees within one), one for its batch.
 */
export interface GroupCommitOptions<I, O> {
  /** One statement for the batch: an outcome per item, in the items' order (an Error: that item's failure alone). */
  commit: (items: readonly I[]) => Promise<readonly (O | Error)[]>;
  /** The single path, for each item of a batch whose `commit` threw (see above). */
  alone?: (item: I) => Promise<O>;
  /**
   * Which errors of `commit` send the items to `alone` (default: all). The others reach every
   * caller as they are: an outage would fail each alone too, only later and at twice the cost.
   */
  aloneWhen?: (err: unknown) => boolean;
  /** At most this many items in one batch (default 128). */
  maxBatch?: number;
  /** Batches running at once (default 2: one fills while the other's round trip is out). */
  maxInFlight?: number;
  /** Wait this long for company before a batch goes while a slot is free (default 0: the end of this turn). */
  windowMs?: number;
  /**
   * A batch not settled this long after it went is overdue: its slot goes to the next batch (see
   * above). Default 30 s; `Infinity`: never. Set it well above the statement's worst healthy time:
   * an overdue batch is one more statement open, and `maxOverdue` of them refuse new items.
   */
  deadlineMs?: number;
  /** What an overdue batch's callers get (see above): 'wait' (default; writes) or 'reject' (reads only). */
  whenOverdue?: 'wait' | 'reject';
  /** Overdue batches still open at most; at this many, items are refused (default `maxInFlight`: a dead store sees twice a healthy one's statements). */
  maxOverdue?: number;
  /** What one item's statement is, for people, at the head of BatchOverdue's message ("the token lookup"). */
  label?: string;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: Error) => void;
}

interface Batch<I, O> {
  waiting: Waiting<I, O>[];
  /** Past its deadline: no longer holds a slot, counted in `overdue` until it settles. */
  overdue: boolean;
  /** Its callers were rejected at the deadline ('reject'): its late outcome goes to nobody. */
  abandoned: boolean;
  done?: Promise<void>;
}

export class GroupCommit<I, O> {
  private pending: Waiting<I, O>[] = [];
  /** Batches holding a slot. */
  private inFlight = 0;
  /** Batches past their deadline whose statement has not settled yet. */
  private overdue = 0;
  private scheduled = false;
  /** What drain() waits for: every batch whose callers are not all answered yet. */
  private readonly running = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly windowMs: number;
  private readonly deadlineMs: number;
  private readonly maxOverdue: number;
  private readonly label: string;

  constructor(private readonly opts: GroupCommitOptions<I, O>) {
    this.maxBatch = opts.maxBatch ?? 128;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.windowMs = opts.windowMs ?? 0;
    this.deadlineMs = opts.deadlineMs ?? 30_000;
    this.maxOverdue = opts.maxOverdue ?? this.maxInFlight;
    this.label = opts.label ?? 'the statement';
  }

  /** Batches past their deadline and still open (for tests and metrics). */
  get overdueBatches(): number {
    return this.overdue;
  }

  /**
   * Resolves with the item's outcome once its batch is committed; rejects with its own error, or
   * with BatchOverdue (503): `refused` (never sent), or `deadline` under whenOverdue 'reject'.
   */
  add(item: I): Promise<O> {
    if (this.stalled()) return Promise.reject(this.refusal());
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.inFlight >= this.maxInFlight) return; // a finishing batch takes it
      if (this.pending.length >= this.maxBatch) this.kick();
      else this.schedule();
    });
  }

  /** Waits until every item added so far has its outcome. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.running.size > 0) {
      this.kick();
      if (this.running.size > 0) await Promise.race(this.running);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      this.kick();
    };
    if (this.windowMs > 0) setTimeout(go, this.windowMs);
    else setImmediate(go);
  }

  /** Too many statements already hang: nothing more is sent until one of them settles. */
  private stalled(): boolean {
    return this.overdue >= this.maxOverdue;
  }

  private refusal(): BatchOverdue {
    return BatchOverdue.refused(this.label, this.overdue, this.deadlineMs);
  }

  private kick(): void {
    if (this.stalled()) {
      // LOUD: these items were never part of any statement: "failed, nothing done" is the truth,
      // and a retry cannot do their work twice. Keeping them would hold their callers for as long
      // as the store hangs.
      const refused = this.pending;
      this.pending = [];
      for (const w of refused) w.reject(this.refusal());
      return;
    }
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const waiting = this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
      this.pending = waiting === this.pending ? [] : this.pending.slice(this.maxBatch);
      this.start(waiting);
    }
  }

  private start(waiting: Waiting<I, O>[]): void {
    const batch: Batch<I, O> = { waiting, overdue: false, abandoned: false };
    this.inFlight++;
    const timer = Number.isFinite(this.deadlineMs) ? setTimeout(() => this.passDeadline(batch), this.deadlineMs) : undefined;
    const done: Promise<void> = this.run(batch).finally(() => {
      clearTimeout(timer);
      this.running.delete(done);
      if (batch.overdue) this.overdue--;
      else this.inFlight--;
      // What gathered meanwhile has waited a whole round trip already: it goes now.
      if (this.pending.length > 0) this.kick();
    });
    batch.done = done;
    this.running.add(done);
  }

  /** The batch's deadline passed with its statement still open: its slot goes to the next batch. */
  private passDeadline(batch: Batch<I, O>): void {
    batch.overdue = true;
    this.inFlight--;
    this.overdue++;
    if (this.opts.whenOverdue === 'reject') {
      // Reads only (see the options): the callers are answered 503 now, the statement runs on unheard.
      batch.abandoned = true;
      for (const w of batch.waiting) w.reject(BatchOverdue.deadline(this.label, this.deadlineMs));
      this.running.delete(batch.done!); // its callers have their outcome: drain() does not wait for the statement
    }
    // 'wait': LOUD: the callers are NOT answered: their write may still commit (see above).
    this.kick();
  }

  private async run(batch: Batch<I, O>): Promise<void> {
    const waiting = batch.waiting;
    let outcomes: readonly (O | Error)[];
    try {
      outcomes = await this.opts.commit(waiting.map((w) => w.item));
      if (outcomes.length !== waiting.length) throw new Error(`group commit: ${outcomes.length} outcomes for ${waiting.length} items`);
    } catch (err) {
      // Abandoned: its callers were answered 503 at the deadline; no item-by-item retry for nobody.
      if (batch.abandoned) return;
      const alone = this.opts.alone;
      if (!alone || waiting.length === 1 || !(this.opts.aloneWhen?.(err) ?? true)) {
        for (const w of waiting) w.reject(err as Error);
        return;
      }
      // Each on its own, concurrently (the pool bounds them): each caller's own outcome.
      await Promise.all(waiting.map((w) => alone(w.item).then(w.resolve, w.reject)));
      return;
    }
    if (batch.abandoned) return;
    waiting.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome as O);
    });
  }
}
