import { describe, expect, it } from 'vitest';
import { matchHostname, matchPattern, matchPatternList } from './match-pattern.ts';
import { WorkMeter } from './work-meter.ts';

/** match.c `match_pattern` as OpenSSH writes it (recursive, exponential on `*a*a*a…`): the reference. */
function opensshMatchPattern(s: string, p: string): boolean {
  let si = 0;
  let pi = 0;
  for (;;) {
    if (pi === p.length) return si === s.length;
    if (p[pi] === '*') {
      while (p[pi] === '*') pi++;
      if (pi === p.length) return true;
      for (; si < s.length; si++) if ((p[pi] === '?' || s[si] === p[pi]) && opensshMatchPattern(s.slice(si), p.slice(pi))) return true;
      return false;
    }
    if (si === s.length) return false;
    if (p[pi] !== '?' && p[pi] !== s[si]) return false;
    si++;
    pi++;
  }
}

const meter = () => new WorkMeter();

describe('matchPattern (match.c match_pattern, without the backtracking)', () => {
  it('gives the same answer as OpenSSH on 20,000 random subjects and patterns', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const word = (alphabet: string, max: number) => Array.from({ length: rand(max + 1) }, () => alphabet[rand(alphabet.length)]).join('');
    for (let i = 0; i < 20_000; i++) {
      const s = word('ab.', 8);
      const p = word('ab.*?', 7);
      expect(matchPattern(s, p, { meter: meter() }), `${JSON.stringify(s)} ~ ${JSON.stringify(p)}`).toBe(opensshMatchPattern(s, p));
    }
  });

  it('`?` is exactly one character; `*` any run, empty included; everything else literal', () => {
    const m = (s: string, p: string) => matchPattern(s, p, { meter: meter() });
    expect([m('app', 'app?'), m('app1', 'app?'), m('app12', 'app?')]).toEqual([false, true, false]);
    expect([m('', '*'), m('x', '**'), m('web1,web2', 'web1,web2'), m('web1', 'web1,web2')]).toEqual([true, true, true, false]);
    expect(m('WEB', 'web')).toBe(false); // Host patterns are case-sensitive
  });

  it('costs at most |subject| × |pattern| steps: the 158-byte input that took seconds is instant', () => {
    const work = new WorkMeter();
    expect(matchPattern('a'.repeat(40), '*a*a*a*a*a*a*a*b', { meter: work })).toBe(false);
    expect(work.steps).toBeLessThanOrEqual(40 * 16);
    const many = new WorkMeter();
    expect(matchPattern('a'.repeat(63), `${'*a'.repeat(500)}*b`, { meter: many })).toBe(false);
    expect(many.steps).toBeLessThanOrEqual(63 * 1002);
  });

  it('ignoreCase folds ASCII letters only, as match_hostname does', () => {
    expect(matchPattern('API.Internal', '*.INTERNAL', { ignoreCase: true })).toBe(true);
    expect(matchPattern('db-1.example.com', 'DB-?.example.com', { ignoreCase: true })).toBe(true);
    // U+212A KELVIN SIGN lowercases to "k" in Unicode, never in ssh.
    expect(matchPattern('\u212a.internal', 'k.internal', { ignoreCase: true })).toBe(false);
  });

  it('compares UTF-8 bytes, as ssh does: `?` is one byte', () => {
    expect(matchPattern('é', '??')).toBe(true);
    expect(matchPattern('é', '?')).toBe(false);
  });
});

describe('matchPatternList / matchHostname (match.c)', () => {
  it('comma-separated items, `!` negation wins, lowercasing for host names', () => {
    expect(matchPatternList('db1', 'web*,db?', false, meter())).toBe(1);
    expect(matchPatternList('db1', 'db*,!db1', false, meter())).toBe(-1);
    expect(matchPatternList('db1', '!web*', false, meter())).toBe(0);
    expect(matchPatternList('Deploy', 'deploy', false, meter())).toBe(0); // user names are case-sensitive
    expect(matchHostname('DB1.Example', 'db?.EXAMPLE', meter())).toBe(1);
    expect(matchPatternList('a', 'a,', false, meter())).toBe(1);
  });

  it('an item of 1023 characters or more makes the whole list fail, as its fixed buffer does in ssh', () => {
    expect(matchPatternList('a', `a,${'x'.repeat(1023)}`, false, meter())).toBe(0);
    expect(matchPatternList('a', `a,${'x'.repeat(1022)}`, false, meter())).toBe(1);
  });
});
