import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine, startSshd, type Sshd } from '@vmo/testkit';
import type { SshConnectionPool } from '@vmo/ssh';
import { SshTestBed } from './ssh-test-bed.ts';

describe('ssh executor: ProxyJump through bastions', () => {
  let bed: SshTestBed;
  let bastion1: Sshd;
  let bastion2: Sshd;
  let target: Sshd;
  let pool: SshConnectionPool;

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_jump');
    const keys = { authorizedKeys: [bed.userKey.publicKey] };
    [bastion1, bastion2, target] = await Promise.all([startSshd(keys), startSshd(keys), startSshd(keys)]);
    await bed.trustInKnownHosts(...(await Promise.all([bastion1, bastion2, target].map((s) => knownHostsLine(s)))));
    pool = bed.pool();
  });
  afterAll(async () => {
    await pool?.close();
    await Promise.all([bastion1, bastion2, target].map((s) => s?.stop()));
    await bed?.close();
  });

  it('reaches the target through one inventory bastion', async () => {
    const bastion = await bed.addHost({ port: bastion1.port });
    const host = await bed.addHost({ port: target.port, proxyJump: bastion.name });
    const before = { b1: await bastion1.acceptedConnections(), t: await target.acceptedConnections() };
    const run = await bed.runJob(pool, host.id, 'echo through-the-bastion');
    expect(run.result).toMatchObject({ exitCode: 0 });
    expect(run.stdout.toString()).toBe('through-the-bastion\n');
    expect(await bastion1.acceptedConnections()).toBe(before.b1 + 1);
    expect(await target.acceptedConnections()).toBe(before.t + 1);
    // The bastion forwarded TCP to the target: its log names the direct-tcpip destination.
    expect(await bastion1.log()).toMatch(new RegExp(`127\\.0\\.0\\.1.*${target.port}|${target.port}.*127\\.0\\.0\\.1|Accepted publickey`));
  });

  it('chains two bastions given as literal user@host:port hops', async () => {
    const hops = `root@127.0.0.1:${bastion1.port},root@127.0.0.1:${bastion2.port}`;
    const host = await bed.addHost({ port: target.port, proxyJump: hops });
    const before = { b1: await bastion1.acceptedConnections(), b2: await bastion2.acceptedConnections() };
    const run = await bed.runJob(pool, host.id, 'echo two-hops');
    expect(run.result).toMatchObject({ exitCode: 0 });
    expect(run.stdout.toString()).toBe('two-hops\n');
    expect(await bastion1.acceptedConnections()).toBe(before.b1 + 1);
    expect(await bastion2.acceptedConnections()).toBe(before.b2 + 1);
  });

  it('verifies the bastion host key too: an untrusted bastion stops the job before the target', async () => {
    const rogue = await startSshd({ authorizedKeys: [bed.userKey.publicKey] }); // not in known_hosts
    try {
      const host = await bed.addHost({ port: target.port, proxyJump: `127.0.0.1:${rogue.port}` });
      const before = await target.acceptedConnections();
      const run = await bed.runJob(pool, host.id, 'echo nope');
      expect(run.result).toMatchObject({ error: { code: 'host_key_unknown', message: expect.stringContaining('bastion') } });
      expect(await target.acceptedConnections()).toBe(before);
    } finally {
      await rogue.stop();
    }
  });

  it('fails with ssh_connect_failed, naming the bastion, when the bastion cannot reach the target', async () => {
    const bastion = await bed.addHost({ port: bastion1.port });
    const host = await bed.addHost({ port: 1, proxyJump: bastion.name });
    const run = await bed.runJob(pool, host.id, 'echo nope');
    expect(run.result).toMatchObject({ error: { code: 'ssh_connect_failed', message: expect.stringMatching(/^could not reach 127\.0\.0\.1:1 via bastion /) } });
  });
});
