/** A line longer than this is written in pieces, each prefixed: a child that never writes a newline cannot hold memory. */
const MAX_LINE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * `vmo run --selector … --stream`: every child's output, line by line, each line prefixed by its
 * target (`[web-1] …`, as `pssh -i` and Salt do), stdout to stdout and stderr to stderr. A line is
 * written whole once its newline came; what a child left without one is written (with a newline)
 * when the child ends. Bytes stay bytes: lines are cut at 0x0a, nothing is decoded.
 */
export class LinePrefixer {
  /** Per child and stream: the start of a line whose newline has not come yet. */
  private readonly partial = new Map<string, { prefix: Buffer; out: NodeJS.WritableStream; held: Buffer }>();
  /** Per child: the attempt whose output came last (retries: the next attempt's output follows). */
  private readonly attempts = new Map<string, number>();

  constructor(private readonly before?: () => void, private readonly after?: () => void) {}

  write(chunk: { jobId: string; target: string; attempt?: number; stream: 'stdout' | 'stderr'; data: Uint8Array }): void {
    const attempt = chunk.attempt ?? 1;
    const last = this.attempts.get(chunk.jobId);
    if (last !== undefined && attempt > last) {
      // A retried child: end what the last attempt left mid-line, and say where the next one starts.
      this.flush(chunk.jobId);
      this.emit(process.stderr, Buffer.from(`[${chunk.target}] ── attempt ${attempt}\n`));
    }
    this.attempts.set(chunk.jobId, Math.max(attempt, last ?? 0));
    const key = `${chunk.jobId}:${chunk.stream}`;
    let entry = this.partial.get(key);
    if (!entry) {
      entry = { prefix: Buffer.from(`[${chunk.target}] `), out: chunk.stream === 'stdout' ? process.stdout : process.stderr, held: Buffer.alloc(0) };
      this.partial.set(key, entry);
    }
    let data = entry.held.length > 0 ? Buffer.concat([entry.held, chunk.data]) : Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
    const lines: Buffer[] = [];
    for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE)) {
      lines.push(entry.prefix, data.subarray(0, nl + 1));
      data = data.subarray(nl + 1);
    }
    while (data.length > MAX_LINE_BYTES) {
      lines.push(entry.prefix, data.subarray(0, MAX_LINE_BYTES), Buffer.from('\n'));
      data = data.subarray(MAX_LINE_BYTES);
    }
    entry.held = Buffer.from(data); // a copy: the chunk's buffer is not ours to keep
    if (lines.length > 0) this.emit(entry.out, Buffer.concat(lines));
  }

  /** The child ended: write what it left without a newline. */
  flush(jobId: string): void {
    for (const stream of ['stdout', 'stderr']) {
      const key = `${jobId}:${stream}`;
      const entry = this.partial.get(key);
      if (entry && entry.held.length > 0) this.emit(entry.out, Buffer.concat([entry.prefix, entry.held, Buffer.from('\n')]));
      this.partial.delete(key);
    }
  }

  flushAll(): void {
    for (const key of [...this.partial.keys()]) this.flush(key.slice(0, key.lastIndexOf(':')));
  }

  private emit(out: NodeJS.WritableStream, bytes: Buffer): void {
    this.before?.();
    out.write(bytes);
    this.after?.();
  }
}
