import { describe, expect, it } from 'vitest';
import { completeLength, concat, OutputSplicer } from './output-splicer.ts';

const b = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const text = (parts: Uint8Array[]) => Buffer.from(concat(parts)).toString('latin1');
const BAND = '\x1b[0;38;2;255;180;161;48;2;58;29;29m';

describe('OutputSplicer', () => {
  it('writes stdout unchanged, cut only after whole characters and escape sequences', () => {
    const s = new OutputSplicer();
    // "é" is c3 a9; the first byte comes alone.
    expect(text(s.push('stdout', b('caf\xc3')))).toBe('caf');
    expect(text(s.push('stdout', b('\xa9!')))).toBe('\xc3\xa9!');
    expect(text(s.push('stdout', b('x\x1b[3')))).toBe('x');
    expect(text(s.push('stdout', b('1mred')))).toBe('\x1b[31mred');
  });

  it("keeps each stream's unfinished tail to itself when the other stream comes between", () => {
    const s = new OutputSplicer();
    const out = [...s.push('stdout', b('\xe2\x82')), ...s.push('stderr', b('err\n')), ...s.push('stdout', b('\xac\n'))];
    expect(text(out)).toBe(`${BAND}err\x1b[0m\n${BAND}\x1b[0m\xe2\x82\xac\n`);
  });

  it('writes stdout colours again after a stderr chunk cut into a coloured stdout line', () => {
    const s = new OutputSplicer();
    s.push('stdout', b('\x1b[1m\x1b[32mgreen '));
    expect(text(s.push('stderr', b('warn')))).toBe(`${BAND}warn\x1b[0m\x1b[1m\x1b[32m`);
    s.push('stdout', b('still green\x1b[0m\n'));
    expect(text(s.push('stderr', b('more')))).toBe(`${BAND}more\x1b[0m`);
  });

  it('flushes what is still held at the end', () => {
    const s = new OutputSplicer();
    s.push('stdout', b('a\xc3'));
    expect(text(s.flush())).toBe('\xc3');
  });

  it('knows a finished sequence from an unfinished one', () => {
    expect(completeLength(b('abc'))).toBe(3);
    expect(completeLength(b('a\x1b'))).toBe(1);
    expect(completeLength(b('a\x1b]0;title'))).toBe(1);
    expect(completeLength(b('a\x1b]0;title\x07'))).toBe(11);
    expect(completeLength(b('a\x1b]8;;x\x1b\\'))).toBe(9);
    expect(completeLength(b('a\x1b(B'))).toBe(4);
    expect(completeLength(b('a\x1b('))).toBe(1);
    expect(completeLength(b('\xf0\x9f\x98'))).toBe(0);
    expect(completeLength(b('\xf0\x9f\x98\x80'))).toBe(4);
  });
});
