import { PatternAutomaton } from './pattern-automaton.ts';

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
 * - Cost: linear in the output, whatever the number and length of the patterns (one automaton step
 *   per byte, see SecretMasker). What the patterns cost is the automaton's size and build, both
 *   linear in their total bytes, and the input limits bound those (jobs/job-input.ts: 64 KiB of
 *   names and values per job; the lines are pieces of the values, so under 128 KiB in all). So the
 *   number of line patterns is not capped, neither refused at input nor dropped here: a line left
 *   unmasked without a word would be worse, and their number no longer costs anything per byte.
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
 * each have their own (a secret is never split across the two), sharing one PatternAutomaton.
 *
 * Cost: one automaton step per byte written (plus failure-link steps, fewer than the bytes in
 * all), whatever the number and length of the patterns; what is held is kept in a buffer that is
 * compacted only after as many bytes as it holds have passed, so even one-byte writes behind a
 * 16 KiB held prefix cost O(1) each. LOUD: this runs on the worker's and the agent's event loop; a
 * pass per pattern, or a search of the held end per pattern, once let one job's secrets stall every
 * other job there for seconds per chunk.
 *
 * Positions below are offsets in the stream since the last flush (`read`: bytes written so far).
 */
export class SecretMasker {
  private readonly automaton: PatternAutomaton | undefined;
  /** The automaton's state after the last byte read. */
  private state = 0;
  private read = 0;
  /** Everything before this offset has been emitted; [emitted, read) is held. */
  private emitted = 0;
  /** The held bytes: hold[holdStart, holdStart + read - emitted). Never more than `longest - 1`. */
  private hold: Buffer = EMPTY;
  private holdStart = 0;
  /**
   * Hidden runs not wholly emitted yet, as [start, end) pairs from `runs[runsHead]` on: sorted,
   * apart (touching runs are joined), each ending after `emitted` (the first may begin before it,
   * its beginning already out as a mask).
   */
  private runs: number[] = [];
  private runsHead = 0;
  /** The emitted output ends with a mask that a hidden run starting at `emitted` continues. */
  private maskOpen = false;
  /** Per prefilter needle, where it is next found in the data being written (-1: not looked yet). */
  private readonly candidates: Int32Array;
  /** Bytes copied to keep what is held, since construction: for tests of the bound above. */
  copiedBytes = 0;

  constructor(patterns: Iterable<Buffer | string> | PatternAutomaton) {
    const automaton =
      patterns instanceof PatternAutomaton
        ? patterns
        : new PatternAutomaton([...patterns].map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    this.automaton = automaton.longest > 0 ? automaton : undefined;
    this.candidates = new Int32Array(automaton.needles.length);
  }

  /** Bytes held back right now (for tests and for the bound: at most the longest pattern - 1). */
  get heldBytes(): number {
    return this.read - this.emitted;
  }

  write(data: Buffer): Buffer {
    const automaton = this.automaton;
    if (automaton === undefined) return data;
    const n = data.length;
    if (n === 0) return EMPTY;
    const { rootNext, mayBegin, matchLength, needles } = automaton;
    const last = n - 1;
    const base = this.read;
    // A needle found before this offset lies wholly in `data`: up to there the prefilter may jump
    // (see PatternAutomaton), the rest goes byte by byte.
    let prefilterUntil = needles.length > 0 ? n - automaton.needleSpan + 1 : 0;
    if (prefilterUntil > 0) this.candidates.fill(-1);
    let jumps = 0;
    let jumped = 0;
    let state = this.state;
    let i = 0;
    while (i < n) {
      if (state === 0) {
        if (i < prefilterUntil) {
          const at = this.nextCandidate(data, i, prefilterUntil);
          jumped += at - i;
          i = at;
          // Beginnings found every few bytes: the byte loop is cheaper for the rest of this write.
          if (++jumps >= 32 && jumped < 32 * jumps) prefilterUntil = 0;
          if (i === n) break; // (one-byte needles: no byte is left for the byte loop)
        }
        // Off any pattern: skip places where none can begin (the byte and the next), then step.
        while (i < last && mayBegin[(data[i]! << 8) | data[i + 1]!] === 0) i++;
        state = rootNext[data[i]!]!;
        if (state === 0) {
          i++; // the last byte, and it begins no pattern
          continue;
        }
      } else {
        state = automaton.next(state, data[i]!);
      }
      i++;
      const length = matchLength[state]!;
      if (length !== 0) this.hide(base + i - length, base + i);
    }
    this.state = state;
    this.read = base + n;
    return this.emitUpTo(this.read - automaton.holdLength[state]!, data, base);
  }

  /** The stream ended: everything held goes out, masked. The masker starts afresh afterwards. */
  flush(): Buffer {
    const out = this.read > this.emitted ? this.emitUpTo(this.read, EMPTY, this.read) : EMPTY;
    this.state = 0;
    this.read = 0;
    this.emitted = 0;
    this.hold = EMPTY;
    this.holdStart = 0;
    this.runs = [];
    this.runsHead = 0;
    this.maskOpen = false;
    return out;
  }

  /**
   * The first offset from `from` on where some needle of the prefilter is found in `data`, or
   * `until` if none is before it. Each needle is searched again only once passed, so every byte is
   * looked at once per needle at most.
   */
  private nextCandidate(data: Buffer, from: number, until: number): number {
    const { needles } = this.automaton!;
    const candidates = this.candidates;
    let first = until;
    for (let k = 0; k < needles.length; k++) {
      let at = candidates[k]!;
      if (at < from) {
        const found = data.indexOf(needles[k]!, from);
        at = candidates[k] = found === -1 ? data.length : found;
      }
      if (at < first) first = at;
    }
    return first;
  }

  /** Bytes [start, end) (start >= emitted) are inside an occurrence; `end` never decreases. */
  private hide(start: number, end: number): void {
    const runs = this.runs;
    let top = runs.length;
    while (top > this.runsHead && runs[top - 1]! >= start) {
      start = Math.min(start, runs[top - 2]!);
      top -= 2;
    }
    runs.length = top;
    runs.push(start, end);
  }

  /**
   * Emit [emitted, upTo) masked and hold [upTo, read). The held bytes are `hold`'s, then `data`,
   * which starts at offset `base`.
   */
  private emitUpTo(upTo: number, data: Buffer, base: number): Buffer {
    const from = this.emitted;
    // The common case: nothing held before, nothing hidden, nothing to hold: the write as it came.
    if (from === base && upTo === this.read && this.runsHead === this.runs.length) {
      this.maskOpen = false;
      this.emitted = upTo;
      return data;
    }
    const parts: Buffer[] = [];
    let copied = false; // some part is a view of `hold`, which is ours to reuse: the result is a copy
    const take = (start: number, end: number) => {
      if (start < base) {
        const stop = Math.min(end, base);
        parts.push(this.hold.subarray(this.holdStart + start - from, this.holdStart + stop - from));
        copied = true;
        start = stop;
      }
      if (start < end) parts.push(data.subarray(start - base, end - base));
    };
    const runs = this.runs;
    let k = this.runsHead;
    let pos = from;
    let maskOpen = this.maskOpen;
    for (; k < runs.length && runs[k]! < upTo; k += 2) {
      const start = Math.max(runs[k]!, pos);
      const end = runs[k + 1]!;
      if (start > pos) {
        take(pos, start);
        maskOpen = false;
      }
      if (!maskOpen) parts.push(SECRET_MASK);
      maskOpen = true;
      pos = Math.min(end, upTo);
      if (end > upTo) break; // goes on in what is held: kept, its mask already out
    }
    if (pos < upTo) {
      take(pos, upTo);
      maskOpen = false;
    }
    this.maskOpen = maskOpen;
    this.runsHead = k;
    if (k === runs.length) {
      runs.length = 0;
      this.runsHead = 0;
    } else if (k > 64 && k * 2 > runs.length) {
      runs.splice(0, k);
      this.runsHead = 0;
    }
    const out = parts.length === 0 ? EMPTY : parts.length === 1 && !copied ? parts[0]! : Buffer.concat(parts);
    this.keep(upTo, data, base);
    return out;
  }

  /** Hold [upTo, read): the end of `hold` and/or of `data`. Called once what was held is emitted (copied). */
  private keep(upTo: number, data: Buffer, base: number): void {
    const length = this.read - upTo;
    if (length === 0) {
      this.holdStart = 0;
    } else if (upTo >= base) {
      // Copied: the caller's buffer is not ours to keep a view of.
      this.ensureHold(length);
      this.copiedBytes += data.copy(this.hold, 0, upTo - base);
      this.holdStart = 0;
    } else {
      // Part of what was held stays held, and all of `data` joins it.
      let start = this.holdStart + upTo - this.emitted;
      const kept = base - upTo;
      if (start + length > this.hold.length) {
        // Compact (or grow) only when the end is reached: the buffer is twice the held bound, so
        // this copies at most as many bytes as were written since the last time.
        if (this.hold.length < 2 * length) {
          const grown = Buffer.allocUnsafe(Math.max(2 * length, 2 * (this.automaton!.longest - 1)));
          this.hold.copy(grown, 0, start, start + kept);
          this.hold = grown;
        } else {
          this.hold.copyWithin(0, start, start + kept);
        }
        this.copiedBytes += kept;
        start = 0;
      }
      this.copiedBytes += data.copy(this.hold, start + kept);
      this.holdStart = start;
    }
    this.emitted = upTo;
  }

  private ensureHold(length: number): void {
    if (this.hold.length < length) this.hold = Buffer.allocUnsafe(Math.max(length, 2 * (this.automaton!.longest - 1)));
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
    // Built once for the job and shared: it never changes, and each stream keeps its own state.
    const automaton = new PatternAutomaton(maskPatterns(secretValues));
    this.streams = { 1: new SecretMasker(automaton), 2: new SecretMasker(automaton) };
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
