/**
 * Turns a job's two streams, chunk by chunk, into the one byte sequence the console's terminal
 * parses, with stderr marked in a colour of its own.
 *
 * stdout and stderr were separate pipes, chunked wherever the reader happened to cut them: a stdout
 * chunk can end in the middle of a UTF-8 character or of an escape sequence, and the next chunk
 * may be stderr's. Written as they come, the terminal would decode the two streams' bytes into one
 * character (or swallow stderr into stdout's escape sequence). So each stream keeps its own
 * unfinished tail (a partial character or escape sequence, a few bytes) and puts it in front of
 * its own next chunk: the bytes written are each stream's bytes, in order and unchanged, only cut
 * at places the terminal can switch streams.
 *
 * stderr's lines are written between STDERR_START and a reset, then stdout's colours since its
 * last reset are written again, so a stdout line coloured across a stderr chunk keeps its colour.
 * stdout's own bytes are never altered: stderr's look is the one thing added, around stderr's text.
 */

const ESC = 0x1b;
const latin1 = new TextDecoder('latin1');

/**
 * stderr's look: light salmon on a dark red band (24-bit, so no program's palette colour is
 * mistaken for it: red text is red text, stderr is the band). The legend in JobConsole.svelte's toolbar uses the same.
 */
export const STDERR_FG = [255, 180, 161] as const;
export const STDERR_BG = [58, 29, 29] as const;
const STDERR_START = bytes(`\x1b[0;38;2;${STDERR_FG.join(';')};48;2;${STDERR_BG.join(';')}m`);
const RESET = bytes('\x1b[0m');

/** An escape sequence longer than this (a huge OSC) is written as it is, not held back. */
const MAX_HELD_ESCAPE = 256;
/** stdout's SGR sequences kept since its last reset (more is a program that never resets). */
const MAX_REPLAYED_SGR = 32;

export type StreamName = 'stdout' | 'stderr';

export class OutputSplicer {
  private readonly held: Record<StreamName, Uint8Array> = { stdout: new Uint8Array(0), stderr: new Uint8Array(0) };
  /** stdout's SGR sequences since its last reset, to write again after a stderr chunk. */
  private stdoutSgr: Uint8Array[] = [];

  /** The parts to write for this chunk, in order (none while all of it is an unfinished tail). */
  push(stream: StreamName, data: Uint8Array): Uint8Array[] {
    const joined = this.held[stream].length === 0 ? data : concat([this.held[stream], data]);
    const cut = completeLength(joined);
    this.held[stream] = joined.slice(cut);
    return this.emit(stream, joined.subarray(0, cut));
  }

  /** At the end of the job: whatever tail is still held, as it is. */
  flush(): Uint8Array[] {
    const parts = [...this.emit('stdout', this.held.stdout), ...this.emit('stderr', this.held.stderr)];
    this.held.stdout = new Uint8Array(0);
    this.held.stderr = new Uint8Array(0);
    return parts;
  }

  private emit(stream: StreamName, body: Uint8Array): Uint8Array[] {
    if (body.length === 0) return [];
    if (stream === 'stdout') {
      this.trackSgr(body);
      return [body];
    }
    return [banded(body), ...this.stdoutSgr];
  }

  /** Follows stdout's SGR (colour) state: the sequences since its last full reset. */
  private trackSgr(body: Uint8Array): void {
    for (let i = body.indexOf(ESC); i >= 0 && i + 1 < body.length; i = body.indexOf(ESC, i + 1)) {
      if (body[i + 1] === 0x63 /* ESC c: full reset */) {
        this.stdoutSgr = [];
        continue;
      }
      if (body[i + 1] !== 0x5b /* [ */) continue;
      const end = csiEnd(body, i + 2);
      if (end < 0) return; // cannot happen: unfinished sequences are held back
      if (body[end] !== 0x6d /* m */) continue;
      const params = latin1.decode(body.subarray(i + 2, end));
      if (/^0*$/.test(params)) this.stdoutSgr = [];
      else if (/^(0*;)/.test(params)) this.stdoutSgr = [body.slice(i, end + 1)];
      else {
        this.stdoutSgr.push(body.slice(i, end + 1));
        if (this.stdoutSgr.length > MAX_REPLAYED_SGR) this.stdoutSgr.shift();
      }
      i = end;
    }
  }
}

/**
 * stderr's bytes with the band around each line's part: reset before each newline and set again
 * after it, or the terminal would paint the band across the new blank line a newline scrolls in
 * (background colour erase).
 */
function banded(body: Uint8Array): Uint8Array {
  let lines = 1;
  for (let i = body.indexOf(0x0a); i >= 0; i = body.indexOf(0x0a, i + 1)) lines++;
  const out = new Uint8Array(body.length + lines * (STDERR_START.length + RESET.length));
  let at = 0;
  let from = 0;
  for (;;) {
    const nl = body.indexOf(0x0a, from);
    out.set(STDERR_START, at);
    at += STDERR_START.length;
    out.set(body.subarray(from, nl < 0 ? body.length : nl), at);
    at += (nl < 0 ? body.length : nl) - from;
    out.set(RESET, at);
    at += RESET.length;
    if (nl < 0) return out;
    out[at++] = 0x0a;
    from = nl + 1;
  }
}

/** How many leading bytes of `data` end on a whole character outside any escape sequence. */
export function completeLength(data: Uint8Array): number {
  return Math.min(escapeCut(data), utf8Cut(data));
}

/** The start of an unfinished escape sequence at the end (one that began in the last MAX_HELD_ESCAPE bytes), else the length. */
function escapeCut(data: Uint8Array): number {
  const from = Math.max(0, data.length - MAX_HELD_ESCAPE);
  const k = data.lastIndexOf(ESC);
  if (k < from) return data.length;
  if (k === data.length - 1) return k;
  const kind = data[k + 1]!;
  if (kind === 0x5b /* CSI */) return csiEnd(data, k + 2) < 0 ? k : data.length;
  // OSC, DCS, SOS, PM, APC: to BEL or ST (ESC \, whose ESC would be the last one, and is complete).
  if (kind === 0x5d || kind === 0x50 || kind === 0x58 || kind === 0x5e || kind === 0x5f) return data.indexOf(0x07, k + 2) < 0 ? k : data.length;
  // ESC ( B and the like take one more byte.
  if (kind >= 0x20 && kind <= 0x2f) return k + 2 < data.length ? data.length : k;
  return data.length;
}

/** The index of a CSI's final byte (0x40-0x7e) from `start`, or -1 if it has not come yet. */
function csiEnd(data: Uint8Array, start: number): number {
  for (let j = start; j < data.length; j++) {
    const b = data[j]!;
    if (b >= 0x40 && b <= 0x7e) return j;
    if (b < 0x20 || b > 0x3f) return j; // not a CSI byte: the sequence is broken, and over
  }
  return -1;
}

/** The start of an unfinished UTF-8 character at the end, else the length. */
function utf8Cut(data: Uint8Array): number {
  const n = data.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = data[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
