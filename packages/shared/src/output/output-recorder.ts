import { MAX_CHUNK_BYTES } from '../protocol/constants.ts';

export interface RecordedChunk {
  seq: number;
  stream: 1 | 2;
  data: Buffer;
}

export interface OutputLimits {
  /** Bytes kept per job, head + tail together (the marker is extra). */
  maxBytes: number;
  /** Of those, how many of the last bytes are kept once the cap is passed. */
  tailBytes: number;
}

/**
 * Turns a process's stdout/stderr into numbered chunks and applies the output cap.
 *
 * LOUD: `seq` is dense (0, 1, 2 …) across both streams and assigned exactly once here; the
 * whole resume/dedupe scheme (primary key (job_id, seq), gap filling) depends on it.
 *
 * Below the cap every byte is emitted as it arrives. Past the head (`maxBytes - tailBytes`) the
 * output is held in a ring of at most `tailBytes`; `finish()` emits a marker saying how many bytes
 * were left out, then the tail. So the stored log is head + marker + tail, the end of a log being
 * what usually explains a failure. Memory per job is bounded by `tailBytes` + one chunk.
 */
export class OutputRecorder {
  private seq: number;
  private seen = 0;
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private tail: { stream: 1 | 2; data: Buffer }[] = [];
  private tailSize = 0;
  private dropped = 0;
  private finished = false;

  constructor(
    limits: OutputLimits,
    private readonly emit: (chunk: RecordedChunk) => void,
    firstSeq = 0,
  ) {
    this.seq = firstSeq;
    this.tailLimit = Math.min(limits.tailBytes, Math.floor(limits.maxBytes / 2));
    this.headLimit = limits.maxBytes - this.tailLimit;
  }

  get nextSeq(): number {
    return this.seq;
  }
  get truncated(): boolean {
    return this.dropped > 0;
  }
  get bytesSeen(): number {
    return this.seen;
  }

  write(stream: 1 | 2, data: Buffer): void {
    if (this.finished || data.length === 0) return;
    const headRoom = this.headLimit - Math.min(this.seen, this.headLimit);
    this.seen += data.length;
    if (headRoom > 0) {
      const head = data.length <= headRoom ? data : data.subarray(0, headRoom);
      this.emitSplit(stream, head);
      if (head.length === data.length) return;
      data = data.subarray(head.length);
    }
    this.keepTail(stream, data);
  }

  /** Emits the tail and the marker if the cap was passed. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.dropped > 0) {
      const marker = `\n[vmo: output over the limit of ${this.headLimit + this.tailLimit} bytes: ${this.dropped} bytes left out here]\n`;
      this.emitSplit(2, Buffer.from(marker));
    }
    for (const piece of this.tail) this.emitSplit(piece.stream, piece.data);
    this.tail = [];
  }

  private keepTail(stream: 1 | 2, data: Buffer): void {
    if (this.tailLimit === 0) {
      this.dropped += data.length;
      return;
    }
    if (data.length >= this.tailLimit) {
      this.dropped += this.tailSize + data.length - this.tailLimit;
      // Copy: the caller's buffer may be a slice of a much larger one we must not pin.
      this.tail = [{ stream, data: Buffer.from(data.subarray(data.length - this.tailLimit)) }];
      this.tailSize = this.tailLimit;
      return;
    }
    this.tail.push({ stream, data: Buffer.from(data) });
    this.tailSize += data.length;
    while (this.tailSize > this.tailLimit) {
      const first = this.tail[0]!;
      const excess = this.tailSize - this.tailLimit;
      if (first.data.length <= excess) {
        this.tail.shift();
        this.tailSize -= first.data.length;
        this.dropped += first.data.length;
      } else {
        first.data = first.data.subarray(excess);
        this.tailSize -= excess;
        this.dropped += excess;
      }
    }
  }

  private emitSplit(stream: 1 | 2, data: Buffer): void {
    for (let off = 0; off < data.length; off += MAX_CHUNK_BYTES) {
      this.emit({ seq: this.seq++, stream, data: data.subarray(off, off + MAX_CHUNK_BYTES) });
    }
  }
}
