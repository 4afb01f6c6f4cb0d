import { concat } from './output-splicer.ts';

/** What the writer needs of xterm's Terminal. */
export interface WritableTerminal {
  write(data: Uint8Array, callback?: () => void): void;
}

/** One write per frame of at most this much: bigger batches parse in slices anyway. */
const MAX_BATCH_BYTES = 512 * 1024;
/** Handed to the terminal and not yet parsed: past this, nothing more until its write callback. */
const MAX_PARSING_BYTES = 1024 * 1024;

/**
 * Writes a console's output to the terminal once per animation frame, in one batch, and no faster
 * than the terminal parses it (its write callback): a job writing megabytes a second becomes a few
 * large writes a second instead of thousands of small ones, and xterm's own buffer never grows
 * without bound (it drops data past 50 MB). What waits here is `backlog`: the feed stops reading
 * the stream while it is high (console-feed.ts), so memory stays bounded.
 */
export class FrameWriter {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private parsing = 0;
  private frame = 0;
  private disposed = false;
  private waiters: { below: number; resolve: () => void }[] = [];
  /** Bytes the terminal has parsed. */
  parsed = 0;

  constructor(
    private readonly terminal: WritableTerminal,
    private readonly onParsed: () => void = () => {},
  ) {}

  /** Waiting here or in the terminal, not yet parsed. */
  get backlog(): number {
    return this.queued + this.parsing;
  }

  push(parts: readonly Uint8Array[]): void {
    if (this.disposed) return;
    for (const part of parts) {
      if (part.length === 0) continue;
      this.queue.push(part);
      this.queued += part.length;
    }
    this.schedule();
  }

  /** Resolves once the backlog is at most `bytes`. */
  drained(bytes: number): Promise<void> {
    if (this.backlog <= bytes || this.disposed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ below: bytes, resolve }));
  }

  dispose(): void {
    this.disposed = true;
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    this.queue = [];
    this.queued = 0;
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private schedule(): void {
    if (this.frame === 0 && this.queued > 0 && !this.disposed) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    if (this.disposed || this.parsing >= MAX_PARSING_BYTES) return; // the write callback schedules the next
    const taken: Uint8Array[] = [];
    let size = 0;
    while (this.queue.length > 0 && size < MAX_BATCH_BYTES) {
      const part = this.queue.shift()!;
      taken.push(part);
      size += part.length;
    }
    this.queued -= size;
    this.parsing += size;
    this.terminal.write(concat(taken), () => {
      this.parsing -= size;
      this.parsed += size;
      this.onParsed();
      this.release();
      this.schedule();
    });
    this.schedule();
  }

  private release(): void {
    const backlog = this.backlog;
    const ready = this.waiters.filter((w) => backlog <= w.below);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => backlog > w.below);
    for (const w of ready) w.resolve();
  }
}
