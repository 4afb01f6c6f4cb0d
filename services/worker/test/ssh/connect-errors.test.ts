import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, type Sshd } from '@vmo/testkit';
import { SshTestBed } from './ssh-test-bed.ts';

describe('ssh executor: connection failures get specific error codes', () => {
  let bed: SshTestBed;
  let sshd: Sshd;
  /** Accepts TCP and never speaks SSH: a handshake that never completes. */
  let silent: Server;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_errors');
    sshd = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
    await bed.trustInKnownHosts(await knownHostsLine(sshd));
    silent = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    silent?.close();
    await sshd?.stop();
    await bed?.close();
  });

  const codeOf = async (host: Parameters<SshTestBed['addHost']>[0], settings = {}) => {
    const pool = bed.pool({ settings });
    try {
      const run = await bed.runJob(pool, (await bed.addHost(host)).id, 'echo ran');
      expect(run.stdout.length).toBe(0);
      return (run.result as { error?: { code: string } }).error?.code;
    } finally {
      await pool.close();
    }
  };

  it('ssh_connect_refused when nothing listens', async () => {
    expect(await codeOf({ port: 1 })).toBe('ssh_connect_refused');
  });

  it('ssh_dns when the name does not resolve', async () => {
    expect(await codeOf({ port: 22, host: 'no-such-host.invalid' })).toBe('ssh_dns');
  });

  it('ssh_timeout when the handshake never completes', async () => {
    expect(await codeOf({ port: (silent.address() as { port: number }).port }, { connectTimeoutMs: 300 })).toBe('ssh_timeout');
  });

  it('ssh_auth_failed when the server refuses the key', async () => {
    const stranger = await generateKey(bed.dir, 'stranger_key');
    expect(await codeOf({ port: sshd.port, identityFile: stranger.privatePath })).toBe('ssh_auth_failed');
  });

  it('ssh_key_unusable for a missing identity file or an encrypted one without passphrase', async () => {
    expect(await codeOf({ port: sshd.port, identityFile: `${bed.dir}/missing_key` })).toBe('ssh_key_unusable');
    const locked = await generateKey(bed.dir, 'locked_key', { passphrase: 'correct horse' });
    expect(await codeOf({ port: sshd.port, identityFile: locked.privatePath })).toBe('ssh_key_unusable');
  });

  it('uses VMO_SSH_KEY_PASSPHRASE for an encrypted identity file', async () => {
    const locked = await generateKey(bed.dir, 'locked_ok', { passphrase: 'correct horse' });
    const other = await startSshd({ authorizedKeys: [locked.publicKey] });
    try {
      await bed.trustInKnownHosts(await knownHostsLine(other));
      const pool = bed.pool({ settings: { keyPassphrase: 'correct horse' } });
      try {
        const host = await bed.addHost({ port: other.port, identityFile: locked.privatePath });
        expect((await bed.runJob(pool, host.id, 'echo unlocked')).stdout.toString()).toBe('unlocked\n');
      } finally {
        await pool.close();
      }
    } finally {
      await bed.trustInKnownHosts(await knownHostsLine(sshd));
      await other.stop();
    }
  });
});
