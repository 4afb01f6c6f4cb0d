import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StderrPreamble, type PreambleEvent } from './stderr-preamble.ts';

const NONCE = 'vmo-0123456789abcdef01234567';

/** Feed `input` cut at every given offset; return what passed through and the events. */
function feed(input: Buffer, cuts: number[]) {
  const events: PreambleEvent[] = [];
  const passed: Buffer[] = [];
  const p = new StderrPreamble(NONCE, (e) => events.push(e), (d) => passed.push(Buffer.from(d)));
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    p.write(input.subarray(at, cut));
    at = cut;
  }
  p.end();
  return { events, passed: Buffer.concat(passed) };
}

describe('StderrPreamble', () => {
  const payload = randomBytes(4096); // arbitrary bytes, newlines and all
  const input = Buffer.concat([Buffer.from(`banner from .bashrc\n${NONCE} pgid 4242\n${NONCE} run\n`), payload]);

  it('strips exactly the marker lines, at any chunking, and passes every other byte in order', () => {
    const expected = Buffer.concat([Buffer.from('banner from .bashrc\n'), payload]);
    for (let cut = 1; cut < 90; cut++) {
      const { events, passed } = feed(input, [cut, cut + 3, cut + 40]);
      expect(events).toEqual([{ t: 'pgid', id: 4242 }, { t: 'run' }]);
      expect(passed.equals(expected), `cut at ${cut}`).toBe(true);
    }
  });

  it('leaves marker-like text of the command alone once the command runs', () => {
    const forged = Buffer.from(`${NONCE} pgid 1\n`);
    const { events, passed } = feed(Buffer.concat([input, forged]), [10]);
    expect(events).toEqual([{ t: 'pgid', id: 4242 }, { t: 'run' }]);
    expect(passed.subarray(-forged.length).equals(forged)).toBe(true);
  });

  it('reports cwd-failed, and passes through everything when no marker ever comes', () => {
    expect(feed(Buffer.from(`${NONCE} pgid 7\n${NONCE} cwd-failed\n`), []).events).toEqual([{ t: 'pgid', id: 7 }, { t: 'cwd-failed' }]);
    const noise = Buffer.from('sh: 1: /bin/sh: not found\n');
    expect(feed(noise, [5]).passed.equals(noise)).toBe(true);
  });
});
