import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { computeSshConfig, computeSshConfigCooperatively, type ComputedHost } from './compute-ssh-config.ts';

/** What an operator's ~/.ssh/config tends to look like. */
const REALISTIC = `
# work
Include ~/.ssh/config.d/*

Host web1 web1.prod
  HostName 10.0.1.11
  User deploy

Host web2
  HostName 10.0.1.12

Host db-primary db
  HostName db1.internal.example.com
  Port 2222
  IdentityFile ~/.ssh/db_ed25519
  IdentityFile ~/.ssh/fallback

Host legacy
  HostName %h.old.example.com
  ProxyCommand ssh -W %h:%p jump

Host behind
  HostName 10.9.0.5
  ProxyJump bastion

Host bastion
  HostName bastion.example.com
  StrictHostKeyChecking accept-new

Host *.prod web*
  User webops
  Port 2200

Match host 10.0.1.12 exec "test -f /tmp/at-office"
  ProxyJump office-gw

Match host 10.0.1.*
  IdentityFile ~/.ssh/web_key

Host *
  User ops
  IdentityFile ~/.ssh/id_ed25519
  ServerAliveInterval 30
`;

const byAlias = (text: string) => {
  const { hosts } = computeSshConfig(text);
  return Object.fromEntries(hosts.map((h) => [h.alias, h])) as Record<string, ComputedHost | undefined>;
};
const skipReason = (text: string, alias: string) => computeSshConfig(text).skipped.find((s) => s.alias === alias)?.reason;

describe('computeSshConfig: a realistic config, evaluated as ssh -G does', () => {
  const { hosts, skipped } = computeSshConfig(REALISTIC);
  const hostsBy = Object.fromEntries(hosts.map((h) => [h.alias, h]));

  it('creates one entry per concrete alias, several aliases for one host included', () => {
    expect(Object.keys(hostsBy).sort()).toEqual(['bastion', 'behind', 'db', 'db-primary', 'web1', 'web1.prod']);
    expect(hostsBy['db']).toEqual({ ...hostsBy['db-primary'], alias: 'db' });
  });

  it('first value wins, and Host patterns and `Host *` apply after the specific block', () => {
    expect(hostsBy['web1']).toMatchObject({ host: '10.0.1.11', user: 'deploy', port: 2200 });
    expect(hostsBy['web1.prod']).toMatchObject({ host: '10.0.1.11', user: 'deploy', port: 2200 });
    expect(hostsBy['behind']).toMatchObject({ host: '10.9.0.5', user: 'ops', port: 22, proxyJump: 'bastion' });
    expect(hostsBy['db-primary']).toEqual({ alias: 'db-primary', host: 'db1.internal.example.com', user: 'ops', port: 2222, identityFile: '~/.ssh/db_ed25519', proxyJump: null, hostKeyPolicy: 'strict' });
    expect(hostsBy['bastion']).toMatchObject({ host: 'bastion.example.com', user: 'ops', port: 22, hostKeyPolicy: 'accept-new' });
  });

  it('evaluates `Match host` against the resolved HostName', () => {
    expect(hostsBy['web1']!.identityFile).toBe('~/.ssh/web_key');
    expect(hostsBy['bastion']!.identityFile).toBe('~/.ssh/id_ed25519');
  });

  it('reports Include (not followed) and Match exec (not evaluated, never run), with their lines', () => {
    expect(skipped).toContainEqual({ alias: 'Include ~/.ssh/config.d/*', line: 3, reason: expect.stringContaining('not followed') });
    expect(skipped).toContainEqual({ alias: 'Match host 10.0.1.12 exec test -f /tmp/at-office', line: 34, reason: expect.stringContaining('not evaluated') });
  });

  it('skips, rather than guesses, an alias a Match exec block would change', () => {
    // The block would give web2 a ProxyJump if the operator's machine had /tmp/at-office.
    expect(hostsBy['web2']).toBeUndefined();
    expect(skipped).toContainEqual({ alias: 'web2', line: 9, reason: expect.stringContaining('cannot be evaluated on the server') });
  });

  it('never runs Match exec commands', () => {
    const proof = `/tmp/vmo-match-exec-${process.pid}`;
    computeSshConfig(`Match exec "touch ${proof}"\n  User x\nHost a\n  User y\n`);
    expect(existsSync(proof)).toBe(false);
  });

  it('skips aliases with no User and ProxyCommand hosts, with the reason', () => {
    expect(computeSshConfig('Host lonely\n  HostName 1.2.3.4\n').skipped).toEqual([{ alias: 'lonely', line: 1, reason: expect.stringContaining('no User') }]);
    expect(skipped).toContainEqual({ alias: 'legacy', line: 18, reason: expect.stringContaining('ProxyCommand') });
  });
});

// The seven causes of wrong imports found by comparing with `ssh -G` (issue 8 #3), one by one.
describe('computeSshConfig agrees with OpenSSH where the ssh-config package did not', () => {
  it('a comma in a Host line is part of one literal pattern, not a list', () => {
    const text = 'Host web1,web2\n  Port 2201\nHost web1 web2\n  User ops\n';
    expect(byAlias(text)['web1']).toMatchObject({ port: 22 });
    expect(byAlias(text)['web2']).toMatchObject({ port: 22 });
    expect(skipReason(text, 'web1,web2')).toMatch(/comma is part of the name/);
    // In Match, a comma does separate a list.
    expect(byAlias('Host a b c\n  User u\nMatch host a,b\n  Port 7\n')).toMatchObject({ a: { port: 7 }, b: { port: 7 }, c: { port: 22 } });
  });

  it('`?` matches exactly one character, never zero', () => {
    const hosts = byAlias('Host app?\n  Port 2201\nHost app app1 app12\n  User u\n');
    expect([hosts['app']!.port, hosts['app1']!.port, hosts['app12']!.port]).toEqual([22, 2201, 22]);
  });

  it('`Hostname`, `HOST`, `user`: keywords and Match criteria in any case', () => {
    const hosts = byAlias('Host a\n  Hostname 10.0.0.1\n  USER deploy\nMATCH Host 10.0.0.*\n  proxyjump bastion\nMatch User deploy\n  Port 2222\n');
    expect(hosts['a']).toMatchObject({ host: '10.0.0.1', user: 'deploy', proxyJump: 'bastion', port: 2222 });
  });

  it('`Match user` before any User is set depends on the local login name: the alias is skipped', () => {
    const text = 'Host early late\n  HostName h\nMatch user root\n  ProxyJump j\nHost early late\n  User deploy\nHost set\n  User ops\nMatch user ops\n  Port 2200\n';
    expect(skipReason(text, 'early')).toMatch(/Match user root.*line 3.*login name/);
    // Once User is set, `Match user` is decidable and applies.
    expect(byAlias('Host set\n  User ops\nMatch user ops\n  Port 2200\n')['set']).toMatchObject({ user: 'ops', port: 2200 });
    // A `Match user` block that sets nothing the import uses does not matter.
    expect(byAlias('Match user root\n  ServerAliveInterval 5\nHost x\n  User u\n')['x']).toMatchObject({ user: 'u' });
  });

  it('`%h` in HostName is expanded (and lowercased) before `Match host` is evaluated', () => {
    const hosts = byAlias('Host db1 web1\n  HostName %h.Internal.Example\n  User u\nMatch host db?.internal.example\n  ProxyJump gw\n');
    expect(hosts['db1']).toMatchObject({ host: 'db1.internal.example', proxyJump: 'gw' });
    expect(hosts['web1']).toMatchObject({ host: 'web1.internal.example', proxyJump: null });
    expect(byAlias('Host p\n  HostName 100%%.example\n  User u\n')['p']!.host).toBe('100%.example');
    expect(skipReason('Host p\n  HostName %h.%d\n  User u\n', 'p')).toMatch(/% tokens other than %h/);
  });

  it('ProxyCommand vs ProxyJump: the first one set wins; ProxyCommand none blocks a later ProxyJump', () => {
    expect(skipReason('Host a\n  ProxyCommand ssh -W %h:%p gw\n  ProxyJump j\n  User u\n', 'a')).toMatch(/ProxyCommand/);
    expect(byAlias('Host a\n  ProxyCommand none\nHost *\n  ProxyJump j\n  User u\n')['a']!.proxyJump).toBeNull();
    expect(byAlias('Host a\n  ProxyJump j\n  ProxyCommand ssh -W %h:%p gw\n  User u\n')['a']!.proxyJump).toBe('j');
    expect(byAlias('Host a\n  ProxyJump none\n  ProxyJump j\n  User u\n')['a']!.proxyJump).toBeNull();
    // ssh 9: ProxyJump none does not block a later ProxyCommand.
    expect(skipReason('Host a\n  ProxyJump none\n  ProxyCommand nc %h %p\n  User u\n', 'a')).toMatch(/ProxyCommand/);
  });

  it('`#` is a comment only at the start of a word', () => {
    const hosts = byAlias('Host k1 # old name\n  IdentityFile ~/.ssh/key#1\n  User build#bot # the CI user\n');
    expect(Object.keys(hosts)).toEqual(['k1']);
    expect(hosts['k1']).toMatchObject({ identityFile: '~/.ssh/key#1', user: 'build#bot' });
  });

  it('`IdentityFile none` then another IdentityFile: the later file', () => {
    expect(byAlias('Host a\n  IdentityFile none\n  IdentityFile ~/.ssh/b\n  User u\n')['a']!.identityFile).toBe('~/.ssh/b');
    expect(byAlias('Host a\n  IdentityFile none\n  User u\n')['a']!.identityFile).toBeNull();
  });

  it('CRLF line ends and a leading byte-order mark read like the plain file', () => {
    const plain = 'Host a\n  HostName h.example\n  User u\nHost *\n  Port 2200\n';
    const expected = computeSshConfig(plain).hosts;
    expect(computeSshConfig(plain.replace(/\n/g, '\r\n')).hosts).toEqual(expected);
    expect(computeSshConfig(`\uFEFF${plain}`).hosts).toEqual(expected);
  });

  it('quotes, `Key=Value` and `Key = Value` forms', () => {
    const hosts = byAlias('Host=q1 "q2"\n  HostName=h.example\n  User = "al ice"\n  Port= 2022\n  IdentityFile "~/.ssh/with space"\n');
    expect(hosts['q2']).toMatchObject({ host: 'h.example', user: 'al ice', port: 2022, identityFile: '~/.ssh/with space' });
  });

  it('Match all, canonical, final, originalhost and negation (a `Match final` means a second pass)', () => {
    const text = 'Host f1 f2\n  HostName %h.example\nMatch originalhost f2\n  User orig\nMatch !final\n  Port 2001\nMatch canonical\n  IdentityFile ~/.ssh/c\nMatch final\n  IdentityFile ~/.ssh/f\nMatch all\n  User all\n';
    const hosts = byAlias(text);
    expect(hosts['f1']).toMatchObject({ user: 'all', port: 2001, identityFile: '~/.ssh/c' });
    expect(hosts['f2']).toMatchObject({ user: 'orig' });
    expect(byAlias('Host a\n  User u\nMatch !host a\n  Port 9\nMatch !all\n  Port 8\n')['a']!.port).toBe(22);
  });
});

describe('computeSshConfig reports what it changes or ignores', () => {
  it('StrictHostKeyChecking no is imported as strict, with a warning naming the line and the hosts', () => {
    const { hosts, warnings } = computeSshConfig('Host a b\n  User u\n  StrictHostKeyChecking no\nHost c\n  User u\n  StrictHostKeyChecking accept-new\n');
    expect(hosts.map((h) => [h.alias, h.hostKeyPolicy])).toEqual([['a', 'strict'], ['b', 'strict'], ['c', 'accept-new']]);
    expect(warnings).toEqual([{ line: 3, directive: 'StrictHostKeyChecking no', aliases: ['a', 'b'], message: expect.stringContaining('"strict"') }]);
  });

  it('CanonicalizeHostname: reported; an alias whose name DNS could change is skipped, one behind a proxy is not', () => {
    const text = 'Host direct via\n  CanonicalizeHostname yes\n  User u\nHost via\n  ProxyJump gw\nMatch canonical\n  Port 2022\n';
    const { hosts, skipped } = computeSshConfig(text);
    expect(skipped).toContainEqual({ alias: 'CanonicalizeHostname yes', line: 2, reason: expect.stringContaining('not applied') });
    expect(skipped).toContainEqual({ alias: 'direct', line: 1, reason: expect.stringContaining('DNS') });
    // With a proxy, ssh leaves the name alone but still reads the config again (Match canonical holds).
    expect(hosts).toEqual([expect.objectContaining({ alias: 'via', host: 'via', port: 2022, proxyJump: 'gw' })]);
  });
});

describe('computeSshConfig refuses what ssh refuses, and what is over the limits', () => {
  const errorOf = (text: string) => {
    try {
      computeSshConfig(text);
    } catch (err) {
      return err as AppError;
    }
    throw new Error('no error');
  };

  it('answers 400 invalid_ssh_config naming the line for text ssh itself would refuse', () => {
    for (const [text, line, message] of [
      ['Host a\nMatch\n', 2, /no argument after keyword "match"/],
      ['Host a\nMatch host\n', 2, /Missing Match criteria for host/],
      ['Host a\n  User "unclosed\n', 2, /invalid quotes/],
      ['Match host a bogus b\n', 1, /Unsupported Match attribute bogus/],
      ['Host a\n  User one two\n', 2, /extra arguments/],
      ['Match all host a\n', 1, /cannot be combined/],
    ] as const) {
      const err = errorOf(text);
      expect(err).toBeInstanceOf(AppError);
      expect([err.status, err.code, err.details?.line]).toEqual([400, 'invalid_ssh_config', line]);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(new RegExp(`^config line ${line}: `));
    }
  });

  it('answers 413 ssh_config_too_large, naming the limit, for a config over the limits', () => {
    const big = errorOf(`# ${'x'.repeat(600 * 1024)}\n`);
    expect([big.status, big.code]).toEqual([413, 'ssh_config_too_large']);
    expect(big.message).toMatch(/over the limit of 524288 bytes/);
    const aliases = errorOf(`Host ${Array.from({ length: 10_001 }, (_, i) => `h${i}`).join('\nHost ')}\n`);
    expect([aliases.status, aliases.message]).toEqual([413, expect.stringMatching(/more than 10000 host aliases/)]);
    // Every alias is checked against every wildcard block: refused before doing the work.
    const product = errorOf(`Host ${Array.from({ length: 5000 }, (_, i) => `h${i}`).join(' ')}\n${'Host *x\n'.repeat(5000)}`);
    expect([product.status, product.message]).toEqual([413, expect.stringMatching(/5000 aliases × 5001 wildcard Host and Match blocks/)]);
  });

  it('does work linear in the number of hosts (it was quadratic), and little per wildcard pattern', () => {
    const hosts = (n: number) => Array.from({ length: n }, (_, i) => `Host h${i}\n  HostName 10.0.${i % 250}.1\n  User u\n`).join('') + 'Host *.prod *-db\n  Port 2\nHost *\n  IdentityFile ~/.ssh/k\n';
    const small = computeSshConfig(hosts(1000));
    const large = computeSshConfig(hosts(10_000));
    expect(large.hosts).toHaveLength(10_000);
    // 10× the hosts: ~10× the work (a little more as names get longer); quadratic would be ~100×.
    expect(large.steps / small.steps).toBeLessThan(14);
    expect(large.steps).toBeLessThan(50 * 10_000);
    // The 158-byte input that took 6 s: a handful of steps.
    expect(computeSshConfig(`Host *a*a*a*a*a*a*a*b\n  Port 2\nHost ${'a'.repeat(40)}\n  User u\n`).steps).toBeLessThan(1000);
  });

  it('runs cooperatively: the event loop gets turns while a large config is evaluated', async () => {
    const text = Array.from({ length: 4000 }, (_, i) => `Host h${i}\n  User u\n`).join('') + 'Host *x* !*y*\n  Port 2\n'.repeat(200);
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const result = await computeSshConfigCooperatively(text);
    clearInterval(ticker);
    expect(result.hosts).toHaveLength(4000);
    expect(turns).toBeGreaterThan(2);
  });
});
