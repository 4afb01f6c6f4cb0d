/**
 * Many marks in, few flushes out: `flush` is called with every topic marked since the last flush,
 * at most once per `intervalMs`. The first mark after a quiet spell goes out on the next tick
 * (no waiting for news nobody is drowning in); marks that come faster than the interval wait for
 * it and go out together.
 *
 * `mark` only adds to a set and, at most once per flush, arms a timer: cheap enough for hot paths
 * (every job transition), which never wait for the flush. Timers are unref'd: a pending flush
 * never keeps a process alive. Time is taken from a monotonic clock, and a wait is never longer
 * than the interval whatever the clock says.
 */
export class TopicCoalescer<T extends string> {
  private readonly dirty = new Set<T>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly flush: (topics: T[]) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  mark(topic: T): void {
    if (this.closed) return;
    this.dirty.add(topic);
    if (this.timer !== undefined) return;
    const wait = Math.min(this.intervalMs, Math.max(0, this.lastFlushAt + this.intervalMs - this.now()));
    this.timer = setTimeout(() => this.fire(), wait);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** No flush from now on; what was marked and not flushed is dropped. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.closed || this.dirty.size === 0) return;
    const topics = [...this.dirty];
    this.dirty.clear();
    this.lastFlushAt = this.now();
    this.flush(topics);
  }
}
