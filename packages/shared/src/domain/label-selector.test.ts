import { describe, expect, it } from 'vitest';
import { formatLabelSelector, LabelSelectorError, lexSelector, matchesLabelSelector, parseLabelSelector, type Requirement } from './label-selector.ts';

/*
 * The vectors below marked "k8s" are ported from Kubernetes' own tests,
 * kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/labels/selector_test.go at commit
 * 86b3ca48ea108bf601e7dac30684ca9b1308c488 (TestSelectorParse, TestSelectorMatches, TestLexer,
 * TestLexerSequence, TestRequirementConstructor, TestRequirementSelectorMatching,
 * TestSetSelectorParser). Copyright 2014 The Kubernetes Authors, Licensed under the Apache License,
 * Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0). Only the input strings and expected
 * outcomes are taken. Deliberate deviation: we do not support the numeric `>` / `<` operators, so
 * their "good" vectors are asserted as parse errors here.
 */

const parse = parseLabelSelector;
const err = (s: string): LabelSelectorError => {
  try {
    parse(s);
  } catch (e) {
    if (e instanceof LabelSelectorError) return e;
    throw e;
  }
  throw new Error(`${JSON.stringify(s)} parsed`);
};
const matches = (s: string, labels: Record<string, string>) => matchesLabelSelector(parse(s), labels);
const req = (key: string, operator: Requirement['operator'], values: string[] = []): Requirement => ({ key, operator, values });

describe('parseLabelSelector: Kubernetes vectors', () => {
  // k8s TestSelectorParse testGoodStrings (minus > and <); the canonical text is the input without spaces.
  it.each(['x=a,y=b,z=c', '', 'x!=a,y=b', 'x=', 'x= ', 'x=,z= ', 'x= ,z= ', '!x'])('parses %j', (s) => {
    expect(formatLabelSelector(parse(s))).toBe(s.replaceAll(' ', ''));
  });

  // k8s TestSelectorParse testBadStrings, and the `>`/`<` ones we refuse.
  it.each(['x=a||y=b', 'x==a==b', '!x=a', 'x<a', 'x>1', 'x>1,z<5'])('refuses %j', (s) => {
    expect(() => parse(s)).toThrow(LabelSelectorError);
  });

  // k8s TestSetSelectorParser: valid strings and the requirements they parse to (order as written).
  it.each<[string, Requirement[]]>([
    ['', []],
    ['\rx', [req('x', 'exists')]],
    ['this-is-a-dns.domain.com/key-with-dash', [req('this-is-a-dns.domain.com/key-with-dash', 'exists')]],
    ['this-is-another-dns.domain.com/key-with-dash in (so,what)', [req('this-is-another-dns.domain.com/key-with-dash', 'in', ['so', 'what'])]],
    ['0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)', [req('0.1.2.domain/99', 'notin', ['10.10.100.1', 'tick.tack.clock'])]],
    ['foo  in\t (abc)', [req('foo', 'in', ['abc'])]],
    ['x notin\n (abc)', [req('x', 'notin', ['abc'])]],
    ['x  notin\t\t\t(abc,def)', [req('x', 'notin', ['abc', 'def'])]],
    ['x in (abc,def)', [req('x', 'in', ['abc', 'def'])]],
    ['x in (abc,)', [req('x', 'in', ['', 'abc'])]],
    ['x in ()', [req('x', 'in', [''])]],
    ['x notin (abc,,def),bar,z in (),w', [req('x', 'notin', ['', 'abc', 'def']), req('bar', 'exists'), req('z', 'in', ['']), req('w', 'exists')]],
    ['x,y in (a)', [req('x', 'exists'), req('y', 'in', ['a'])]],
    ['x=a', [req('x', '=', ['a'])]],
    ['x=a,y!=b', [req('x', '=', ['a']), req('y', '!=', ['b'])]],
    ['x=a,y!=b,z in (h,i,j)', [req('x', '=', ['a']), req('y', '!=', ['b']), req('z', 'in', ['h', 'i', 'j'])]],
    ['x notin ( )', [req('x', 'notin', [''])]],
    ['x notin (, a)', [req('x', 'notin', ['', 'a'])]],
    ['a ', [req('a', 'exists')]],
    ['a in (x,y,notin, z,in)', [req('a', 'in', ['in', 'notin', 'x', 'y', 'z'])]],
    // k8s TestRequirementConstructor: keys may start with a digit.
    ['1foo in (bar)', [req('1foo', 'in', ['bar'])]],
    ['1234 in (bar)', [req('1234', 'in', ['bar'])]],
    // k8s TestSelectorMatches: in and notin are names where a key or value stands.
    ['notin=in', [req('notin', '=', ['in'])]],
  ])('parses %j', (s, expected) => {
    expect(parse(s)).toEqual(expected);
  });

  // k8s TestSetSelectorParser: invalid strings.
  it.each(['x=a||y=b', 'x,,y', ',x,y', 'x nott in (y)', 'a in (xyz),', 'a in (xyz)b notin ()', 'a in (xyz abc)', 'a notin(', 'a (', '('])(
    'refuses %j',
    (s) => {
      expect(() => parse(s)).toThrow(LabelSelectorError);
    },
  );

  // k8s TestRequirementConstructor: a key past the length limit (theirs 253 with a prefix, ours 63).
  it('refuses an overlong key', () => {
    expect(err('a'.repeat(254)).position).toBe(0);
    expect(() => parse('a'.repeat(63))).not.toThrow();
    expect(() => parse('a'.repeat(64))).toThrow(LabelSelectorError);
  });

  // k8s TestLexer and TestLexerSequence: token kinds.
  it.each<[string, string[]]>([
    ['', ['end']],
    [',', [',', 'end']],
    ['notin', ['notin', 'end']],
    ['in', ['in', 'end']],
    ['=', ['=', 'end']],
    ['==', ['==', 'end']],
    ['!', ['!', 'end']],
    ['!=', ['!=', 'end']],
    ['(', ['(', 'end']],
    [')', [')', 'end']],
    ['~', ['id', 'end']],
    ['||', ['id', 'end']],
    ['key in ( value )', ['id', 'in', '(', 'id', ')', 'end']],
    ['key notin ( value )', ['id', 'notin', '(', 'id', ')', 'end']],
    ['key in ( value1, value2 )', ['id', 'in', '(', 'id', ',', 'id', ')', 'end']],
    ['!key', ['!', 'id', 'end']],
    ['x in (),y', ['id', 'in', '(', ')', ',', 'id', 'end']],
    ['== != (), = notin', ['==', '!=', '(', ')', ',', '=', 'notin', 'end']],
  ])('lexes %j', (s, kinds) => {
    expect(lexSelector(s).map((t) => t.kind)).toEqual(kinds);
  });
});

describe('matchesLabelSelector: Kubernetes vectors', () => {
  // k8s TestSelectorMatches (minus > and <).
  it.each<[string, Record<string, string>, boolean]>([
    ['', { x: 'y' }, true],
    ['x=y', { x: 'y' }, true],
    ['x=y,z=w', { x: 'y', z: 'w' }, true],
    ['x!=y,z!=w', { x: 'z', z: 'a' }, true],
    ['notin=in', { notin: 'in' }, true],
    ['x', { x: 'z' }, true],
    ['!x', { y: 'z' }, true],
    ['x=z', {}, false],
    ['x=y', { x: 'z' }, false],
    ['x=y,z=w', { x: 'w', z: 'w' }, false],
    ['x!=y,z!=w', { x: 'z', z: 'w' }, false],
    ['x', { y: 'z' }, false],
    ['!x', { x: 'z' }, false],
    ['foo=bar', { foo: 'bar', baz: 'blah' }, true],
    ['baz=blah', { foo: 'bar', baz: 'blah' }, true],
    ['foo=bar,baz=blah', { foo: 'bar', baz: 'blah' }, true],
    ['foo=blah', { foo: 'bar', baz: 'blah' }, false],
    ['baz=bar', { foo: 'bar', baz: 'blah' }, false],
    ['foo=bar,foobar=bar,baz=blah', { foo: 'bar', baz: 'blah' }, false],
    // k8s TestRequirementSelectorMatching, written as selectors.
    ['x in (foo),y notin (alpha)', { x: 'foo', y: 'baz' }, true],
    ['x in (foo),y in (alpha)', { x: 'foo', y: 'baz' }, false],
    ['x notin (),y', { y: '' }, true],
    ['!x,y', { y: '' }, true],
    ['x notin (),!y', { y: '' }, false],
    ['x in ()', { y: 'baz' }, false],
  ])('%j over %j is %s', (s, labels, expected) => {
    expect(matches(s, labels)).toBe(expected);
  });
});

describe('label selectors: our rules', () => {
  it('!= and notin match a label set without the key (Kubernetes semantics)', () => {
    expect(matches('a!=b', {})).toBe(true);
    expect(matches('a!=b', { c: 'd' })).toBe(true);
    expect(matches('a!=b', { a: 'b' })).toBe(false);
    expect(matches('a!=b', { a: 'c' })).toBe(true);
    expect(matches('a notin (b,c)', {})).toBe(true);
    expect(matches('a notin (b,c)', { a: 'c' })).toBe(false);
    expect(matches('a notin (b,c)', { a: 'd' })).toBe(true);
  });

  it('the issue example', () => {
    const s = 'env=prod,role in (web,api),!canary,tier!=db';
    expect(matches(s, { env: 'prod', role: 'web' })).toBe(true);
    expect(matches(s, { env: 'prod', role: 'api', tier: 'app' })).toBe(true);
    expect(matches(s, { env: 'prod', role: 'web', canary: 'true' })).toBe(false);
    expect(matches(s, { env: 'prod', role: 'db' })).toBe(false);
    expect(matches(s, { env: 'prod', role: 'web', tier: 'db' })).toBe(false);
    expect(matches(s, { env: 'staging', role: 'web' })).toBe(false);
  });

  it('a label named like a prototype property is not "present" by accident', () => {
    expect(matches('constructor', {})).toBe(false);
    expect(matches('!toString', {})).toBe(true);
  });

  it.each<[string, number, string]>([
    ['env=prod,role in web', 17, '"("'],
    ['env=prod,,x', 9, 'a label key'],
    ['env=prod,', 9, 'a label key'],
    ['env=prod x', 9, '"," or the end'],
    ['env=pr od', 7, '"," or the end'],
    ['env=-bad', 4, 'a label value'],
    ['env=' + 'v'.repeat(64), 4, 'a label value'],
    ['-env=prod', 0, 'a label key'],
    ['role in (web', 12, '"," or ")"'],
    ['role in (web api)', 13, '"," or ")"'],
    ['a>1', 1, '"=", "==", "!=", "in", "notin", "," or the end'],
    ['!', 1, 'a label key'],
  ])('%j fails at %i expecting %s', (s, position, expected) => {
    const e = err(s);
    expect(e.position).toBe(position);
    expect(e.expected.startsWith(expected)).toBe(true);
    expect(e.message).toContain(`position ${position}`);
  });

  it('every key our labels allow can be selected', () => {
    for (const k of ['a', 'A9', 'app.kubernetes.io/name', 'x_y-z', 'k/'.padEnd(63, 'k')]) expect(parse(`${k}=v`)).toEqual([req(k, '=', ['v'])]);
  });
});
