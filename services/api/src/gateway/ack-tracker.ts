/**
 * Per job, the highest seq below which every chunk is durable (the cumulative ack). Chunks can
 * become durable out of order (the sink runs two batches at once), so seqs above a hole wait in
 * a set until the hole is filled.
 *
 * LOUD: acknowledging a seq tells the agent it may drop that chunk forever. Never advance past a
 * chunk that is not in Postgres.
 */
export class AckTracker {
  private contiguous: number;
  private readonly above = new Set<number>();

  constructor(firstMissingSeq: number) {
    this.contiguous = firstMissingSeq - 1;
  }

  /** Highest seq with every chunk up to it durable (-1 for none). */
  get acked(): number {
    return this.contiguous;
  }

  /** Record a durable chunk; returns true when the cumulative ack advanced. */
  markDurable(seq: number): boolean {
    if (seq <= this.contiguous) return false;
    this.above.add(seq);
    const before = this.contiguous;
    while (this.above.delete(this.contiguous + 1)) this.contiguous++;
    return this.contiguous !== before;
  }
}
