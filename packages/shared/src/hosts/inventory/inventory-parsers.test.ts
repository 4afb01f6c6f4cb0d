import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors/app-error.ts';
import { expandHostPattern, HostPatternError, TooManyHosts } from './host-pattern.ts';
import { INVENTORY_LIMITS } from './inventory-limits.ts';
import { parseIniValue } from './python-literal.ts';
import { readAnsibleInventory } from './read-ansible-inventory.ts';
import { readYaml } from './safe-yaml.ts';
import { shlexSplit } from './shlex-split.ts';
import { vmConfigCandidates } from './vm-config-candidates.ts';

/**
 * The pieces of the inventory import on their own. Expected values are Python's and Ansible's own
 * answers (python3 ast.literal_eval, shlex.split, ansible's expand_hostname_range), written down;
 * whole inventories are compared with ansible-inventory in test/inventory-oracle.test.ts.
 */
const json = (v: unknown) => JSON.parse(JSON.stringify(v));

describe('INI values: Python literal_eval as Ansible applies it', () => {
  // The values of ansible/ansible test/integration/targets/inventory_ini/inventory.ini, with what
  // ast.literal_eval gave for each (complex numbers, Ellipsis and sets have no JSON form: opaque).
  it.each([
    ['True', true],
    ['1', 1],
    ['1.2', 1.2],
    ['1j', { opaque: 'complex' }],
    ["'single'", 'single'],
    ['"double"', 'double'],
    ["b'single'", 'single'],
    ['b"double"', 'double'],
    ['...', { opaque: 'Ellipsis' }],
    ['{"a": "b"}', { a: 'b' }],
    ['[1, 2]', [1, 2]],
    ['(1, 2)', [1, 2]],
    ['{1, 2}', { opaque: 'set' }],
    ['set()', { opaque: 'set' }],
    ['None', null],
    ['invalid', 'invalid'],
    ["[..., 1j, set(), {1, 2}, b'x']", [{ opaque: 'Ellipsis' }, { opaque: 'complex' }, { opaque: 'set' }, { opaque: 'set' }, 'x']],
    ['host-01.internal', 'host-01.internal'],
    // and the forms inventories use
    ['2222', 2222],
    ['0777', '0777'],
    ['0o17', 15],
    ['0x1F', 31],
    ['1_000', 1000],
    ['-5', -5],
    ['--5', '--5'],
    ['10.0.0.1', '10.0.0.1'],
    ['22 # ssh', 22],
    ['10.0.0.1 # old', '10.0.0.1 # old'],
    ["'it''s'", 'its'],
    ['"a\\tb\\x41\\101"', 'a\tbAA'],
    ["r'\\n'", '\\n'],
    ["f'x'", "f'x'"],
    ['"abc', '"abc'],
    ['1, 2', [1, 2]],
    ['1 2', '1 2'],
    ['{"a": 1,}', { a: 1 }],
    ['[1,,2]', '[1,,2]'],
    ['1if', '1if'],
  ])('%s', (text, value) => {
    expect(json(parseIniValue(text))).toEqual(value);
  });
});

describe('INI host lines: shlex.split(comments=True)', () => {
  it.each([
    ['a b="c d" e=\'f g\'', ['a', 'b=c d', 'e=f g']],
    ['web1#old x=1', ['web1']],
    ['a "b\\"c" d\\ e', ['a', 'b"c', 'd e']],
    ['a "" b', ['a', '', 'b']],
    ['x="a\\nb"', ['x=a\\nb']],
  ])('%s', (line, words) => expect(shlexSplit(line)).toEqual(words));
  it('refuses an unclosed quote as shlex does', () => expect(() => shlexSplit('a "b')).toThrow('No closing quotation'));
});

describe('host patterns: parse_address and expand_hostname_range', () => {
  it.each([
    ['web[01:03].example.com', ['web01.example.com', 'web02.example.com', 'web03.example.com'], null],
    ['mail[:2].example.com', ['mail0.example.com', 'mail1.example.com', 'mail2.example.com'], null],
    ['db-[a:c]', ['db-a', 'db-b', 'db-c'], null],
    ['lb[1:9:4]', ['lb1', 'lb5', 'lb9'], null],
    ['h[1:2]x[a:b]', ['h1xa', 'h1xb', 'h2xa', 'h2xb'], null],
    ['badwolf.example.com:5309', ['badwolf.example.com'], 5309],
    ['[2001:db8::1]:2222', ['2001:db8::1'], 2222],
    ['2001:db8::1', ['2001:db8::1'], null],
    ['node1 node2', ['node1 node2'], null],
  ])('%s', (pattern, names, port) => expect(expandHostPattern(pattern, 100)).toEqual({ names, port }));

  it("refuses what Ansible refuses: unequal padding, reversed letters, a zero step", () => {
    expect(() => expandHostPattern('w[01:100]', 1000)).toThrow(HostPatternError);
    expect(() => expandHostPattern('w[c:a]', 1000)).toThrow('begin <= end');
    expect(() => expandHostPattern('w[1:3:0]', 1000)).toThrow(HostPatternError);
  });

  it('counts a range before expanding it: web[0:99999999] is refused, not allocated', () => {
    const started = performance.now();
    expect(() => expandHostPattern('web[0:99999999].example.com', INVENTORY_LIMITS.hosts)).toThrow(TooManyHosts);
    expect(() => expandHostPattern('a[0:999]b[0:999]', INVENTORY_LIMITS.hosts)).toThrow(TooManyHosts);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

/** The error an inventory read throws. */
function refusal(work: () => unknown): AppError {
  try {
    work();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('hostile YAML is refused with a 4xx naming the line, without exhausting the process', () => {
  it('deep nesting stops while tokenising (flow and block), before the composer recurses', () => {
    const deep = [
      '['.repeat(200_000) + ']'.repeat(200_000),
      '- '.repeat(100_000) + 'x\n',
      `a: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}\n`,
      Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'),
    ];
    for (const text of deep) {
      const started = performance.now();
      const err = refusal(() => readAnsibleInventory(text, 'yaml'));
      expect([err.status, err.code]).toEqual([413, 'inventory_too_large']);
      expect(err.message).toMatch(/^inventory: line \d+: YAML nested deeper than 64 levels/);
      expect(performance.now() - started).toBeLessThan(10_000);
    }
  });

  it('a billion laughs stops at the node budget (413), and so does an alias inside its own anchor', () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) laughs.push(`${n}: &${n} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`);
    const err = refusal(() => readAnsibleInventory(`all:\n  vars:\n    x:\n${laughs.map((l) => `      ${l}`).join('\n')}\n`, 'yaml'));
    expect([err.status, err.code]).toEqual([413, 'inventory_too_large']);
    expect(err.message).toMatch(/more than 200000 nodes/);
    const self = refusal(() => readAnsibleInventory('all:\n  vars:\n    a: &a [x, *a]\n', 'yaml'));
    expect([self.status, self.code]).toEqual([413, 'inventory_too_large']);
    expect(() => readYaml('a: *nothing\n')).toThrow('found undefined alias nothing');
  });

  it('the size limit is a 413 naming it', () => {
    const err = refusal(() => readAnsibleInventory(`# ${'x'.repeat(INVENTORY_LIMITS.bytes)}\n`));
    expect([err.status, err.code, err.message]).toEqual([413, 'inventory_too_large', expect.stringMatching(/^inventory: \d+ bytes is over the limit of 524288 bytes/)]);
  });

  it.each([
    ['unknown tag', 'all:\n  vars:\n    x: !!python/object:os.system ls\n', /line 3: could not determine a constructor for the tag/],
    ['local tag', 'all:\n  hosts:\n    a: !foo {x: 1}\n', /line 3: could not determine a constructor/],
    ['two documents', 'all: {}\n---\nall: {}\n', /line 2: expected a single document/],
    ['syntax', 'all:\n  hosts:\n   - a\n  b: [\n', /line \d+: /],
    ['hosts as a list', 'web:\n  hosts:\n    - a\n    - b\n', /line 3: Invalid "hosts" entry for "web" group, requires a dictionary/],
    ['an integer host', 'all:\n  hosts:\n    1234: {}\n', /line 3: Host pattern 1234 must be a string/],
    ['a plugin config', 'plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n', /line 1: Plugin configuration YAML file/],
    ['host vars as a string', 'all:\n  hosts:\n    a: text\n', /line 3: Invalid data from file, expected dictionary/],
    ['a group loop', 'a:\n  children:\n    b:\n      children:\n        a:\n', /recursive dependency loop/],
  ])('%s is a 400 naming the line', (_what, text, message) => {
    const err = refusal(() => readAnsibleInventory(text, 'yaml'));
    expect([err.status, err.code]).toEqual([400, 'invalid_inventory']);
    expect(err.message).toMatch(/^inventory line \d+: /);
    expect(err.message).toMatch(message);
  });

  it('INI refusals name the line too; with no syntax given, both readings are reported', () => {
    const err = refusal(() => readAnsibleInventory('[web]\nh1\n[web:vars]\nnot a pair\n', 'ini'));
    expect(err.message).toBe('inventory line 4: Expected key=value, got: not a pair');
    const both = refusal(() => readAnsibleInventory('[web]\nh1 x\n'));
    expect(both.message).toMatch(/^inventory: neither a YAML inventory \(.+\) nor an INI one \(line 2: Expected key=value host variable assignment, got: x\)/);
  });
});

describe('vm-config files', () => {
  it('one host per VM, in the environment of its path, labelled env=<env>; the same name in two environments is two hosts', () => {
    const { candidates, skipped } = vmConfigCandidates({
      'prod/config.yml': 'vms:\n  web-1: {host: 10.0.1.11, ansible_user: deploy}\n  db-1:\n    host: db-1.internal\n    ansible_user: postgres\n    port: 2222\n',
      'staging/config.yml': 'region: eu\nvms:\n  web-1: {host: 10.1.1.11, ansible_user: deploy, ansible_port: "2200"}\n  nouser: {host: 10.1.1.12}\n',
    });
    expect(candidates.map((c) => [c.name, c.environment, c.host, c.user, c.port, c.labels, c.file, c.line])).toEqual([
      ['web-1', 'prod', '10.0.1.11', 'deploy', 22, { env: 'prod' }, 'prod/config.yml', 2],
      ['db-1', 'prod', 'db-1.internal', 'postgres', 2222, { env: 'prod' }, 'prod/config.yml', 3],
      ['web-1', 'staging', '10.1.1.11', 'deploy', 2200, { env: 'staging' }, 'staging/config.yml', 3],
    ]);
    expect(skipped).toEqual([{ alias: 'nouser', file: 'staging/config.yml', line: 4, reason: 'has no ansible_user (the user to log in as)' }]);
  });

  it.each([
    [{ 'prod/hosts.yml': 'vms: {}\n' }, 'files.prod/hosts.yml: must be named <environment>/config.yml'],
    [{ 'prod/config.yml': 'vms: [a, b]\n' }, 'files.prod/config.yml line 1: vms: must be a mapping'],
    [{ 'prod/config.yml': '- a\n' }, 'files.prod/config.yml line 1: must be a mapping with a "vms" key'],
    [{ 'prod/config.yml': 'vms:\n  a: {host: [x], ansible_user: u}\n' }, 'files.prod/config.yml line 2: vms.a.host: must be a string, not a list'],
    [{ 'prod/config.yml': 'vms:\n  a: {host: h, ansible_user: u, port: yes}\n' }, 'files.prod/config.yml line 2: vms.a.port: must be a port number, not boolean true'],
    [{ 'prod/config.yml': 'vms:\n  a: {host: h, ansible_user: u}\n  a: {host: g, ansible_user: u}\n' }, 'files.prod/config.yml line 3: vms.a: is given twice'],
    [{ 'prod/config.yml': 'vms:\n  a: {host: h\n' }, 'files.prod/config.yml line'],
  ])('%j is a 400 naming the file, line and field', (files, message) => {
    const err = refusal(() => vmConfigCandidates(files));
    expect([err.status, err.code]).toEqual([400, 'invalid_inventory']);
    expect(err.message.startsWith(message), err.message).toBe(true);
  });
});
