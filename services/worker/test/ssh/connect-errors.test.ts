import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, type Sshd } from '@vmo/testkit';
import { capturedLog } from './captured-log.ts';
import { keyRefusal } from './key-refusal.ts';
import { SshTestBed } from './ssh-test-bed.ts';

/**
 * The job's `error` is read by whoever may submit jobs: every way of failing to reach an SSH
 * server is one code and one message (no port scanner); the precise cause is in the worker's log.
 */
describe('ssh executor: connection failures', () => {
  let bed: SshTestBed;
  let sshd: Sshd;
  /** Accepts TCP and never speaks SSH: a handshake that never completes. */
  let silent: Server;
  /** Accepts TCP, answers like a web server and closes: closed before the handshake. */
  let notSsh: Server;
  const sockets: Socket[] = [];
  const portOf = (s: Server) => (s.address() as { port: number }).port;

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_errors');
    sshd = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
    await bed.trustInKnownHosts(await knownHostsLine(sshd));
    silent = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    notSsh = createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')).listen(0, '127.0.0.1');
    await Promise.all([once(silent, 'listening'), once(notSsh, 'listening')]);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    silent?.close();
    notSsh?.close();
    await sshd?.stop();
    await bed?.close();
  });

  const errorOf = async (host: Parameters<SshTestBed['addHost']>[0], settings = {}) => {
    const log = capturedLog();
    const pool = bed.pool({ settings: { log: log.logger, ...settings } });
    try {
      const run = await bed.runJob(pool, (await bed.addHost(host)).id, 'echo ran');
      expect(run.stdout.length).toBe(0);
      return { error: (run.result as { error?: { code: string; message: string } }).error, log: log.text() };
    } finally {
      await pool.close();
    }
  };

  it('refused, unresolvable, silent and non-SSH ports all fail alike: ssh_connect_failed "could not reach host:port"', async () => {
    const refused = await errorOf({ port: 1 });
    const dns = await errorOf({ port: 22, host: 'no-such-host.invalid' });
    const timeout = await errorOf({ port: portOf(silent) }, { connectTimeoutMs: 300 });
    const closed = await errorOf({ port: portOf(notSsh) });
    expect(refused.error).toEqual({ code: 'ssh_connect_failed', message: 'could not reach 127.0.0.1:1' });
    expect(dns.error).toEqual({ code: 'ssh_connect_failed', message: 'could not reach no-such-host.invalid:22' });
    expect(timeout.error).toEqual({ code: 'ssh_connect_failed', message: `could not reach 127.0.0.1:${portOf(silent)}` });
    expect(closed.error).toEqual({ code: 'ssh_connect_failed', message: `could not reach 127.0.0.1:${portOf(notSsh)}` });
    // The operator still learns the real cause, from the worker's log.
    expect(refused.log).toContain('ECONNREFUSED');
    expect(dns.log).toMatch(/ENOTFOUND|EAI_AGAIN|getaddrinfo/);
    expect(timeout.log).toMatch(/Timed out while waiting for handshake/);
    expect(closed.log).toMatch(/Connection lost before handshake/);
  });

  it('ssh_auth_failed when the server refuses the key', async () => {
    const stranger = await generateKey(bed.dir, 'stranger_key');
    expect((await errorOf({ port: sshd.port, identityFile: stranger.privatePath })).error?.code).toBe('ssh_auth_failed');
  });

  it('ssh_key_unusable with one message for a missing identity file and an encrypted one without passphrase', async () => {
    const missing = await errorOf({ port: sshd.port, identityFile: `${bed.dir}/missing_key` });
    const locked = await generateKey(bed.dir, 'locked_key', { passphrase: 'correct horse' });
    const encrypted = await errorOf({ port: sshd.port, identityFile: locked.privatePath });
    expect(missing.error).toMatchObject({ code: 'ssh_key_unusable', message: expect.stringMatching(keyRefusal(`${bed.dir}/missing_key`)) });
    expect(encrypted.error).toMatchObject({ code: 'ssh_key_unusable', message: expect.stringMatching(keyRefusal(locked.privatePath)) });
    expect(encrypted.log).toMatch(/passphrase/i);
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
