/**
 * The last `capacity` bytes of a shell session's output, addressed by absolute byte offset
 * (SHELL.md §S3). `start` is the offset of the oldest byte still held, `head` the offset the next
 * byte will get. Chunks are kept as they came (no copy); the oldest is trimmed when over capacity.
 */
export class OutputRing {
  private chunks: Buffer[] = [];
  private held = 0;
  private _start = 0;

  constructor(readonly capacity: number) {}

  get start(): number {
    return this._start;
  }
  get head(): number {
    return this._start + this.held;
  }

  append(data: Buffer): void {
    this.chunks.push(data);
    this.held += data.length;
    while (this.held > this.capacity) {
      const first = this.chunks[0]!;
      const over = this.held - this.capacity;
      if (first.length <= over) {
        this.chunks.shift();
        this.held -= first.length;
        this._start += first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.held -= over;
        this._start += over;
      }
    }
  }

  /** The bytes from `from` (start ≤ from ≤ head) to the head, in pieces of at most `max` bytes. */
  *slice(from: number, max: number): Generator<{ offset: number; data: Buffer }> {
    let offset = this._start;
    for (const chunk of this.chunks) {
      const end = offset + chunk.length;
      if (end > from) {
        let piece = chunk.subarray(Math.max(0, from - offset));
        let at = Math.max(from, offset);
        while (piece.length > 0) {
          yield { offset: at, data: piece.subarray(0, max) };
          at += Math.min(max, piece.length);
          piece = piece.subarray(max);
        }
      }
      offset = end;
    }
  }
}
