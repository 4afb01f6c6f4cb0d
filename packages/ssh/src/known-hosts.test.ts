import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hostFieldMatches, keysFor, knownHostsName, parseKnownHosts } from './known-hosts.ts';

const hashed = (name: string, salt = Buffer.from('0123456789abcdefghij')) =>
  `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

describe('known_hosts', () => {
  it('looks up [host]:port off port 22 and the bare host on 22', () => {
    expect(knownHostsName('Example.COM', 22)).toBe('example.com');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('matches hashed entries, pattern lists, wildcards and negations', () => {
    expect(hostFieldMatches(hashed('[10.0.0.1]:2222'), '[10.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches(hashed('[10.0.0.1]:2222'), '10.0.0.1')).toBe(false);
    expect(hostFieldMatches('web1,web2,10.0.0.1', 'web2')).toBe(true);
    expect(hostFieldMatches('*.example.com,!evil.example.com', 'a.example.com')).toBe(true);
    expect(hostFieldMatches('*.example.com,!evil.example.com', 'evil.example.com')).toBe(false);
    expect(hostFieldMatches('web?', 'web12')).toBe(false);
  });

  it('separates trusted and @revoked keys and ignores comments, @cert-authority and junk', () => {
    const lines = parseKnownHosts(
      ['# comment', '', 'web1 ssh-ed25519 AAAA1 comment here', '@revoked * ssh-ed25519 AAAA2', '@cert-authority *.example.com ssh-ed25519 AAAA3', 'garbage', 'web2 ssh-rsa AAAA4'].join('\n'),
    );
    expect(keysFor(lines, 'web1', 22)).toEqual({ trusted: ['ssh-ed25519 AAAA1'], revoked: ['ssh-ed25519 AAAA2'] });
    expect(keysFor(lines, 'web1', 2222).trusted).toEqual([]);
  });
});
