import { describe, expect, it } from 'vitest';
import { argvSplit, ConfigSyntaxError, strdelim } from './tokenize.ts';

const words = (s: string) => {
  const out: string[] = [];
  for (let pos: number | null = 0; pos !== null; ) {
    const { word, next } = strdelim(s, pos);
    if (word === '') break;
    out.push(word);
    pos = next;
  }
  return out;
};

describe('strdelim (misc.c): keywords and Match criteria', () => {
  it('splits on whitespace or one `=`, keeps a double-quoted run whole', () => {
    expect(words('Host=foo')).toEqual(['Host', 'foo']);
    expect(words('Host = foo')).toEqual(['Host', 'foo']);
    expect(words('host=a.b exec "test -f x"')).toEqual(['host', 'a.b', 'exec', 'test -f x']);
    expect(words(`exec 'test -f x'`)).toEqual(['exec', "'test", '-f', "x'"]); // single quotes are not quotes here
    expect(() => strdelim('"open', 0)).toThrow(ConfigSyntaxError);
  });
});

describe('argvSplit (misc.c argv_split with terminate_on_comment)', () => {
  it('`#` ends the line only at the start of a word', () => {
    expect(argvSplit('~/.ssh/key#1 # comment')).toEqual(['~/.ssh/key#1']);
    expect(argvSplit('a #b c')).toEqual(['a']);
  });

  it('quotes (single or double, even mid-word) group; backslash escapes quotes, backslashes and spaces', () => {
    expect(argvSplit(`"a b" 'c d' e"f g"h`)).toEqual(['a b', 'c d', 'ef gh']);
    expect(argvSplit('a\\ b c\\"d e\\x')).toEqual(['a b', 'c"d', 'e\\x']);
    expect(argvSplit('"#not-a-comment"')).toEqual(['#not-a-comment']);
    expect(() => argvSplit('"open')).toThrow(/invalid quotes/);
  });
});
