import { describe, expect, it } from 'vitest';
import { addressAllowed, nameAllowed, parseAllowedTargets } from './allowed-targets.ts';
import { parseKeyDirs } from './key-dirs.ts';

describe('VMO_SSH_ALLOWED_TARGETS', () => {
  const policy = parseAllowedTargets('10.0.0.0/8, *.internal ,db-?.example.com,192.0.2.7,2001:db8::/32');

  it('allows addresses inside the CIDRs and single addresses, IPv4-mapped IPv6 included', () => {
    expect(addressAllowed(policy, '10.1.2.3')).toBe(true);
    expect(addressAllowed(policy, '::ffff:10.1.2.3')).toBe(true);
    expect(addressAllowed(policy, '192.0.2.7')).toBe(true);
    expect(addressAllowed(policy, '2001:db8::1')).toBe(true);
    expect(addressAllowed(policy, '11.0.0.1')).toBe(false);
    expect(addressAllowed(policy, '192.0.2.8')).toBe(false);
    expect(addressAllowed(policy, '169.254.169.254')).toBe(false);
    expect(addressAllowed(policy, 'fe80::1%eth0')).toBe(false);
    expect(addressAllowed(policy, 'not-an-ip')).toBe(false);
  });

  it('matches host patterns as OpenSSH does: case-insensitive, * any run, ? exactly one character', () => {
    expect(nameAllowed(policy, 'api.internal')).toBe(true);
    expect(nameAllowed(policy, 'API.Internal')).toBe(true);
    expect(nameAllowed(policy, 'db-1.example.com')).toBe(true);
    expect(nameAllowed(policy, 'db-.example.com')).toBe(false);
    expect(nameAllowed(policy, 'db-12.example.com')).toBe(false);
    expect(nameAllowed(policy, 'internal')).toBe(false);
    expect(nameAllowed(policy, 'x.internal.evil.com')).toBe(false);
    // Case folding is ASCII only, as in ssh: U+212A KELVIN SIGN is not "k".
    expect(nameAllowed(parseAllowedTargets('k.internal'), '\u212a.internal')).toBe(false);
  });

  it('matches in linear-ish time (no backtracking blow-up)', () => {
    const started = process.hrtime.bigint();
    expect(nameAllowed(parseAllowedTargets('*a*a*a*a*a*a*a*a*a*a*a*a*b'), 'a'.repeat(5000))).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it.each([
    ['', /leave it unset/],
    [' , ', /leave it unset/],
    ['10.0.0.0/33', /not a CIDR/],
    ['10.0.0.0/x', /not a CIDR/],
    ['host name', /neither a CIDR nor a host pattern/],
    ['evil.com/8', /neither a CIDR nor a host pattern/],
    ['*.example.com:22', /neither a CIDR nor a host pattern/],
  ])('refuses %j', (value, message) => {
    expect(() => parseAllowedTargets(value)).toThrow(message);
  });
});

describe('VMO_SSH_KEY_DIRS', () => {
  it('takes absolute dirs separated by ":" or ",", with ~ as the home', () => {
    expect(parseKeyDirs('/etc/vmo/keys:~/.ssh, /srv/keys/', '/home/vmo')).toEqual(['/etc/vmo/keys', '/home/vmo/.ssh', '/srv/keys/']);
  });
  it('refuses relative or empty lists', () => {
    expect(() => parseKeyDirs('keys', '/h')).toThrow(/absolute/);
    expect(() => parseKeyDirs(' : ', '/h')).toThrow(/at least one/);
  });
});
