/**
 * Masking of a job's secret values (`secretEnv`) in its output: every occurrence of a secret's
 * bytes is replaced with `***`, wherever the producer's reads happened to split it.
 *
 * LOUD: masking happens at the producer, before OutputRecorder numbers the bytes (the worker's
 * OutputPump for local and SSH jobs, the agent's JobRunner for agent jobs). What is stored, what is
 * streamed and what a resend repeats are then the same masked bytes; nothing downstream ever held
 * the secret. Masking anywhere later would leave a stored or relayed copy unmasked.
 *
 * The rule, byte for byte and independent of how the output was chunked:
 *
 * - Every byte inside any occurrence of any pattern is hidden (occurrences may overlap, one pattern
 *   may be a prefix of another); each maximal run of hidden bytes (touching runs count as one)
 *   becomes one `***`. So `abcd` with secrets `abc` and `bcd` is `***`, not `***d`.
 * - The patterns are each non-empty value and, for a value of several lines, each of its lines of
 *   at least MIN_MASKED_LINE_BYTES (a key printed line by line, each line prefixed, is still masked).
 * - Bytes are held back only while they could be the beginning of a secret: the longest end of the
 *   output so far that is a proper prefix of a pattern, so at most `longest pattern - 1` bytes per
 *   stream and usually none. Held bytes go out with the next write that shows they are not a
 *   secret, or at `flush()` (the process ended). There is no timer: a command that prints half a
 *   secret and pauses must not get the half out, or the other half would follow unmasked.
 * - Any non-empty value is masked, however short. Values of 1-3 bytes would mask ordinary text
 *   everywhere (a secret "1" hides every digit 1), so the API refuses secret values under
 *   MIN_SECRET_VALUE_BYTES (jobs/job-input.ts); this class does not second-guess what it is given.
 */

/** What a hidden run of bytes is replaced with. */
export const SECRET_MASK = Buffer.from('***');

/** Lines of a multi-line secret shorter than this are not masked on their own (the whole value still is). */
export const MIN_MASKED_LINE_BYTES = 4;

const EMPTY = Buffer.alloc(0);

/** The byte patterns to hide for these secret values: each value, and each long enough line of a multi-line one. */
export function maskPatterns(values: Iterable<string>): Buffer[] {
  const seen = new Set<string>();
  const add = (text: string) => {
    if (text.length > 0) seen.add(text);
  };
  for (const value of values) {
    add(value);
    if (!value.includes('\n')) continue;
    for (const line of value.split('\n')) {
      const bare = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (Buffer.byteLength(bare) >= MIN_MASKED_LINE_BYTES) add(bare);
    }
  }
  return [...seen].map((s) => Buffer.from(s, 'utf8'));
}

/**
 * One stream's masking transform: `write` takes the bytes as read and returns the bytes to emit
 * now; `flush` returns what was held back, at the end of the stream. Per stream: stdout and stderr
 * each have their own (a secret is never split across the two).
 */
export class SecretMasker {
  private readonly patterns: Buffer[];
  /** `startsPattern[b]`: some pattern begins with byte b (a cheap filter for the held-back search). */
  private readonly startsPattern = new Uint8Array(256);
  private readonly longest: number;
  /** Bytes read but not emitted yet: a possible beginning of a secret. Never more than `longest - 1`. */
  private pending: Buffer = EMPTY;
  /** How many bytes at the start of `pending` lie inside an occurrence that began in emitted output. */
  private coveredHead = 0;
  /** The emitted output ends with a mask that a hidden run starting at `pending[0]` continues. */
  private maskOpen = false;

  constructor(patterns: Iterable<Buffer | string>) {
    const unique = new Map<string, Buffer>();
    for (const p of patterns) {
      const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      if (bytes.length > 0) unique.set(bytes.toString('hex'), Buffer.from(bytes));
    }
    this.patterns = [...unique.values()];
    this.longest = Math.max(0, ...this.patterns.map((p) => p.length));
    for (const p of this.patterns) this.startsPattern[p[0]!] = 1;
  }

  /** Bytes held back right now (for tests and for the bound: at most the longest pattern - 1). */
  get heldBytes(): number {
    return this.pending.length;
  }

  write(data: Buffer): Buffer {
    if (this.patterns.length === 0) return data;
    if (data.length === 0) return EMPTY;
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    return this.emit(buf, buf.length - this.heldSuffixLength(buf));
  }

  /** The stream ended: everything held goes out, masked. The masker starts afresh afterwards. */
  flush(): Buffer {
    if (this.pending.length === 0) {
      this.maskOpen = false;
      return EMPTY;
    }
    const out = this.emit(this.pending, this.pending.length);
    this.pending = EMPTY;
    this.coveredHead = 0;
    this.maskOpen = false;
    return out;
  }

  /** Emit `buf[0, upTo)` masked; keep the rest as `pending`. */
  private emit(buf: Buffer, upTo: number): Buffer {
    const runs = this.hiddenRuns(buf);
    if (upTo === 0) {
      // Nothing can go out yet: the state still describes the same start of `pending`.
      this.pending = Buffer.from(buf);
      return EMPTY;
    }
    const parts: Buffer[] = [];
    let pos = 0;
    let maskOpen = this.maskOpen;
    let coveredHead = 0;
    for (const [start, end] of runs) {
      if (start >= upTo) break; // wholly in what is held: found again next time
      if (start > pos) {
        parts.push(buf.subarray(pos, start));
        maskOpen = false;
      }
      if (!(maskOpen && start === pos)) parts.push(SECRET_MASK);
      maskOpen = true;
      pos = Math.min(end, upTo);
      if (end > upTo) {
        coveredHead = end - upTo;
        break;
      }
    }
    if (pos < upTo) {
      parts.push(buf.subarray(pos, upTo));
      maskOpen = false;
    }
    this.maskOpen = maskOpen;
    this.coveredHead = coveredHead;
    // Copied: the caller's buffer is not ours to keep a view of, and what is held is small.
    this.pending = upTo < buf.length ? Buffer.from(buf.subarray(upTo)) : EMPTY;
    if (parts.length === 1) return parts[0]!;
    return Buffer.concat(parts);
  }

  /** Sorted, merged (touching runs joined) [start, end) ranges of `buf` inside some occurrence. */
  private hiddenRuns(buf: Buffer): [number, number][] {
    const found: [number, number][] = this.coveredHead > 0 ? [[0, this.coveredHead]] : [];
    for (const p of this.patterns) {
      for (let at = buf.indexOf(p); at !== -1; at = buf.indexOf(p, at + 1)) found.push([at, at + p.length]);
    }
    if (found.length <= 1) return found;
    found.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [found[0]!];
    for (let i = 1; i < found.length; i++) {
      const last = merged[merged.length - 1]!;
      const [start, end] = found[i]!;
      if (start <= last[1]) last[1] = Math.max(last[1], end);
      else merged.push([start, end]);
    }
    return merged;
  }

  /** Length of the longest end of `buf` that is a proper prefix of some pattern (0: none). */
  private heldSuffixLength(buf: Buffer): number {
    const window = Math.min(this.longest - 1, buf.length);
    for (let start = buf.length - window; start < buf.length; start++) {
      if (this.startsPattern[buf[start]!] === 0) continue;
      const length = buf.length - start;
      for (const p of this.patterns) {
        if (p.length > length && buf.compare(p, 0, length, start, buf.length) === 0) return length;
      }
    }
    return 0;
  }
}

/**
 * A job's two output streams, each through its own SecretMasker, into `out` (the recorder).
 * `flush()` once the process has ended and before the recorder's own finish.
 */
export class MaskedOutput {
  private readonly streams: { 1: SecretMasker; 2: SecretMasker };

  constructor(
    secretValues: Iterable<string>,
    private readonly out: (stream: 1 | 2, data: Buffer) => void,
  ) {
    const patterns = maskPatterns(secretValues);
    this.streams = { 1: new SecretMasker(patterns), 2: new SecretMasker(patterns) };
  }

  write(stream: 1 | 2, data: Buffer): void {
    const masked = this.streams[stream].write(data);
    if (masked.length > 0) this.out(stream, masked);
  }

  flush(): void {
    for (const stream of [1, 2] as const) {
      const rest = this.streams[stream].flush();
      if (rest.length > 0) this.out(stream, rest);
    }
  }
}
