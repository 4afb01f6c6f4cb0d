import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeSshConfig } from './compute-ssh-config.ts';

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

describe('computeSshConfig (OpenSSH rules via ssh-config)', () => {
  const { hosts, skipped } = computeSshConfig(REALISTIC);
  const byAlias = Object.fromEntries(hosts.map((h) => [h.alias, h]));

  it('creates one entry per concrete alias, several aliases for one host included', () => {
    expect(Object.keys(byAlias).sort()).toEqual(['bastion', 'behind', 'db', 'db-primary', 'web1', 'web1.prod']);
    expect(byAlias['db']).toEqual({ ...byAlias['db-primary'], alias: 'db' });
  });

  it('first value wins, and Host patterns and `Host *` apply after the specific block', () => {
    expect(byAlias['web1']).toMatchObject({ host: '10.0.1.11', user: 'deploy', port: 2200 });
    expect(byAlias['web1.prod']).toMatchObject({ host: '10.0.1.11', user: 'deploy', port: 2200 });
    expect(byAlias['behind']).toMatchObject({ host: '10.9.0.5', user: 'ops', port: 22, proxyJump: 'bastion' });
    expect(byAlias['db-primary']).toEqual({
      alias: 'db-primary',
      host: 'db1.internal.example.com',
      user: 'ops',
      port: 2222,
      identityFile: '~/.ssh/db_ed25519',
      proxyJump: null,
      hostKeyPolicy: 'strict',
    });
    expect(byAlias['bastion']).toMatchObject({ host: 'bastion.example.com', user: 'ops', port: 22, hostKeyPolicy: 'accept-new' });
  });

  it('evaluates `Match host` against the resolved HostName', () => {
    expect(byAlias['web1']!.identityFile).toBe('~/.ssh/web_key');
    expect(byAlias['bastion']!.identityFile).toBe('~/.ssh/id_ed25519');
  });

  it('reports Include (not followed) and Match exec (not evaluated, never run)', () => {
    expect(skipped).toContainEqual({ alias: 'Include ~/.ssh/config.d/*', reason: expect.stringContaining('not followed') });
    expect(skipped).toContainEqual({ alias: 'Match host 10.0.1.12 exec test -f /tmp/at-office', reason: expect.stringContaining('not evaluated') });
  });

  it('skips, rather than guesses, an alias a Match exec block would change', () => {
    // The block would give web2 a ProxyJump if the operator's machine had /tmp/at-office.
    expect(byAlias['web2']).toBeUndefined();
    expect(skipped).toContainEqual({ alias: 'web2', reason: expect.stringContaining('cannot be evaluated on the server') });
  });

  it('never runs Match exec commands', () => {
    const proof = `/tmp/vmo-match-exec-${process.pid}`;
    computeSshConfig(`Match exec "touch ${proof}"\n  User x\nHost a\n  User y\n`);
    expect(existsSync(proof)).toBe(false);
  });

  it('skips aliases with no User and rejects text that is not an ssh config', () => {
    expect(computeSshConfig('Host lonely\n  HostName 1.2.3.4\n').skipped).toEqual([{ alias: 'lonely', reason: expect.stringContaining('no User') }]);
    expect(() => computeSshConfig('Match host\n')).toThrow(/not a valid OpenSSH client config/);
  });

  it('skips ProxyCommand hosts with the reason', () => {
    expect(skipped).toContainEqual({ alias: 'legacy', reason: expect.stringContaining('ProxyCommand') });
  });
});
