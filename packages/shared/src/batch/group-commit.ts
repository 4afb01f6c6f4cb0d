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
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: Error) => void;
}

export class GroupCommit<I, O> {
  private pending: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly running = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly windowMs: number;

  constructor(private readonly opts: GroupCommitOptions<I, O>) {
    this.maxBatch = opts.maxBatch ?? 128;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.windowMs = opts.windowMs ?? 0;
  }

  /** Resolves with the item's outcome once its batch is committed; rejects with its own error. */
  add(item: I): Promise<O> {
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

  private kick(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const batch = this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
      this.pending = batch === this.pending ? [] : this.pending.slice(this.maxBatch);
      this.inFlight++;
      const done: Promise<void> = this.run(batch).finally(() => {
        this.running.delete(done);
        this.inFlight--;
        // What gathered meanwhile has waited a whole round trip already: it goes now.
        if (this.pending.length > 0) this.kick();
      });
      this.running.add(done);
    }
  }

  private async run(batch: Waiting<I, O>[]): Promise<void> {
    let outcomes: readonly (O | Error)[];
    try {
      outcomes = await this.opts.commit(batch.map((w) => w.item));
      if (outcomes.length !== batch.length) throw new Error(`group commit: ${outcomes.length} outcomes for ${batch.length} items`);
    } catch (err) {
      const alone = this.opts.alone;
      if (!alone || batch.length === 1 || !(this.opts.aloneWhen?.(err) ?? true)) {
        for (const w of batch) w.reject(err as Error);
        return;
      }
      // Each on its own, concurrently (the pool bounds them): each caller's own outcome.
      await Promise.all(batch.map((w) => alone(w.item).then(w.resolve, w.reject)));
      return;
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome as O);
    });
  }
}
