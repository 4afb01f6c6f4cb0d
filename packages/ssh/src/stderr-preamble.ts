export type PreambleEvent = { t: 'pgid' | 'pid'; id: number } | { t: 'cwd-failed' } | { t: 'run' };

/** Bytes held while looking for the markers; past this the stream is passed through as is. */
const MAX_PREAMBLE = 64 * 1024;

/**
 * Separates the wrapper's marker lines (`<nonce> pgid 123`, `<nonce> run`) from the job's stderr.
 *
 * LOUD: after the `run` marker every byte is passed through untouched and in order; before it,
 * only whole marker lines are removed (bytes before a marker, e.g. a login banner printed by the
 * user's shell startup, are passed through too). The wrapper writes its markers before it execs
 * the command, so no output of the command can be interleaved with them, and the nonce is random
 * per run, so the command cannot forge one. A mistake here corrupts stored stderr.
 */
export class StderrPreamble {
  private buffer: Buffer = Buffer.alloc(0);
  private passing = false;
  private readonly marker: Buffer;

  constructor(
    nonce: string,
    private readonly onEvent: (e: PreambleEvent) => void,
    private readonly pass: (data: Buffer) => void,
  ) {
    this.marker = Buffer.from(`${nonce} `);
  }

  write(chunk: Buffer): void {
    if (this.passing) return this.pass(chunk);
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const at = this.buffer.indexOf(this.marker);
      if (at < 0) {
        // Keep a tail that could be the start of a marker split across chunks.
        const keep = Math.min(this.buffer.length, this.marker.length - 1);
        this.emit(this.buffer.subarray(0, this.buffer.length - keep));
        this.buffer = this.buffer.subarray(this.buffer.length - keep);
        break;
      }
      const eol = this.buffer.indexOf(0x0a, at);
      if (eol < 0) {
        this.emit(this.buffer.subarray(0, at));
        this.buffer = this.buffer.subarray(at);
        if (this.buffer.length > MAX_PREAMBLE) this.giveUp();
        return;
      }
      this.emit(this.buffer.subarray(0, at));
      const line = this.buffer.subarray(at + this.marker.length, eol).toString('latin1');
      this.buffer = this.buffer.subarray(eol + 1);
      const event = parseMarker(line);
      if (event) this.onEvent(event);
      if (event?.t === 'run' || event?.t === 'cwd-failed') {
        this.passing = true;
        const rest = this.buffer;
        this.buffer = Buffer.alloc(0);
        return this.emit(rest);
      }
    }
  }

  /** End of stream: whatever is held was not a marker. */
  end(): void {
    this.giveUp();
  }

  private giveUp(): void {
    this.passing = true;
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    this.emit(rest);
  }

  private emit(data: Buffer): void {
    if (data.length > 0) this.pass(data);
  }
}

function parseMarker(line: string): PreambleEvent | undefined {
  const m = /^(pgid|pid) (\d+)$/.exec(line);
  if (m) return { t: m[1] as 'pgid' | 'pid', id: Number(m[2]) };
  if (line === 'run' || line === 'cwd-failed') return { t: line };
  return undefined;
}
