import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A logger whose lines (JSON, as the worker prints them) the test can read back. */
export function capturedLog(level = 'debug'): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level }, sink), text: () => lines.join('') };
}
