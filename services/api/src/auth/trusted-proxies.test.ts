import { describe, expect, it } from 'vitest';
import { tryParseEnv } from '@vmo/shared/config';
import { apiEnv } from '../env.ts';
import { parseCidrs, TrustedProxies } from './trusted-proxies.ts';

describe('VMO_TRUSTED_PROXIES (issue 11 §Identity: the trusted proxy header)', () => {
  it('is off by default: no address is trusted, the user header is X-VM-User, new users are viewers', () => {
    const config = tryParseEnv(apiEnv, {});
    expect(config).toMatchObject({ VMO_TRUSTED_PROXIES: [], VMO_USER_HEADER: 'X-VM-User', VMO_EMAIL_HEADER: 'X-VM-Email', VMO_PROXY_DEFAULT_ROLE: 'viewer' });
    const trusted = new TrustedProxies(config.VMO_TRUSTED_PROXIES);
    expect(trusted.enabled).toBe(false);
    expect(trusted.has('127.0.0.1')).toBe(false);
  });

  it('reads CIDRs and single addresses, separated by commas or spaces', () => {
    expect(parseCidrs('10.0.0.0/8, 192.168.1.7 fd00::/8')).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '192.168.1.7', prefix: 32, family: 'ipv4' },
      { address: 'fd00::', prefix: 8, family: 'ipv6' },
    ]);
    expect(tryParseEnv(apiEnv, { VMO_TRUSTED_PROXIES: '10.1.2.0/24', VMO_PROXY_DEFAULT_ROLE: 'operator', VMO_USER_HEADER: 'X-Forwarded-User' })).toMatchObject({
      VMO_TRUSTED_PROXIES: [{ address: '10.1.2.0', prefix: 24, family: 'ipv4' }],
      VMO_PROXY_DEFAULT_ROLE: 'operator',
      VMO_USER_HEADER: 'X-Forwarded-User',
    });
  });

  it.each([
    [{ VMO_TRUSTED_PROXIES: '10.0.0.0/33' }, /^VMO_TRUSTED_PROXIES: "10.0.0.0\/33": the prefix length must be a whole number from 0 to 32/],
    [{ VMO_TRUSTED_PROXIES: '10.0.0.0/8, proxy.internal' }, /^VMO_TRUSTED_PROXIES: "proxy.internal" is not an IP address or CIDR/],
    [{ VMO_TRUSTED_PROXIES: '10.0.0.0/8/1' }, /^VMO_TRUSTED_PROXIES: "10.0.0.0\/8\/1" is not an IP address or CIDR/],
    [{ VMO_TRUSTED_PROXIES: 'fd00::/129' }, /^VMO_TRUSTED_PROXIES: "fd00::\/129": the prefix length must be a whole number from 0 to 128/],
    [{ VMO_TRUSTED_PROXIES: '10.0.0.0/x' }, /^VMO_TRUSTED_PROXIES: .*prefix length/],
    [{ VMO_USER_HEADER: 'X VM User' }, /^VMO_USER_HEADER: must be an HTTP header name/],
    [{ VMO_USER_HEADER: 'Authorization' }, /^VMO_USER_HEADER: must be a header of its own/],
    [{ VMO_PROXY_DEFAULT_ROLE: 'root' }, /^VMO_PROXY_DEFAULT_ROLE: must be one of admin, operator, viewer/],
  ])('refuses %j at start, naming the variable', (env, message) => {
    expect(() => tryParseEnv(apiEnv, env)).toThrow(message);
  });

  it('trusts exactly the listed addresses, IPv4 peers seen as IPv4-mapped IPv6 included', () => {
    const trusted = new TrustedProxies(parseCidrs('10.0.0.0/8, 192.168.1.7, fd00::/8') as never);
    expect(trusted.has('10.200.3.4')).toBe(true);
    expect(trusted.has('::ffff:10.200.3.4')).toBe(true); // a server listening on :: sees IPv4 clients so
    expect(trusted.has('192.168.1.7')).toBe(true);
    expect(trusted.has('192.168.1.8')).toBe(false);
    expect(trusted.has('11.0.0.1')).toBe(false);
    expect(trusted.has('127.0.0.1')).toBe(false);
    expect(trusted.has('fd12::1')).toBe(true);
    expect(trusted.has('fe80::1')).toBe(false);
    expect(trusted.has(undefined)).toBe(false);
    expect(trusted.has('not an address')).toBe(false);
  });
});
