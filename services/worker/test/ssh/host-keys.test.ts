import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine, startSshd, type Sshd } from '@vmo/testkit';
import { SshTestBed } from './ssh-test-bed.ts';

const exists = (path: string) => access(path).then(() => true, () => false);

describe('ssh executor: host key verification', () => {
  let bed: SshTestBed;
  let sshd: Sshd;
  /** Same address book entry, another server (a different host key): what an impostor looks like. */
  let impostor: Sshd;

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_keys');
    sshd = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
    impostor = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
  });
  afterAll(async () => {
    await sshd?.stop();
    await impostor?.stop();
    await bed?.close();
  });

  /** Run a job that would leave a file behind, with a fresh pool (a fresh handshake). */
  const runTouching = async (hostId: string) => {
    const proof = `${bed.dir}/ran-${Math.random().toString(36).slice(2)}`;
    const pool = bed.pool();
    try {
      const run = await bed.runJob(pool, hostId, `touch ${proof}; echo ok`);
      return { ...run, ran: await exists(proof) };
    } finally {
      await pool.close();
    }
  };

  it('strict: accepts a key listed in known_hosts, plain or hashed (ssh-keygen -H)', async () => {
    const host = await bed.addHost({ port: sshd.port });
    for (const hashed of [false, true]) {
      await bed.trustInKnownHosts('# comment line', await knownHostsLine(sshd, { hashed }));
      const run = await runTouching(host.id);
      expect(run.result, `hashed=${hashed}`).toMatchObject({ exitCode: 0 });
      expect(run.ran).toBe(true);
    }
  });

  it('strict: accepts a key pinned in the inventory without any known_hosts entry', async () => {
    await bed.trustInKnownHosts();
    const host = await bed.addHost({ port: sshd.port, pinnedHostKeys: [sshd.hostKey.publicKey] });
    expect((await runTouching(host.id)).result).toMatchObject({ exitCode: 0 });
  });

  it('strict: refuses an unknown host with host_key_unknown and runs nothing', async () => {
    await bed.trustInKnownHosts();
    const host = await bed.addHost({ port: sshd.port });
    const run = await runTouching(host.id);
    expect(run.result).toMatchObject({ kind: 'exited', exitCode: null, error: { code: 'host_key_unknown' } });
    expect(run.ran).toBe(false);
  });

  it('strict: refuses a changed host key with host_key_mismatch and never runs the command', async () => {
    // known_hosts says the impostor's address belongs to the real server's key.
    await bed.trustInKnownHosts(await knownHostsLine(impostor, { key: sshd.hostKey.publicKey, hashed: true }));
    const host = await bed.addHost({ port: impostor.port });
    const run = await runTouching(host.id);
    expect(run.result).toMatchObject({ kind: 'exited', exitCode: null, error: { code: 'host_key_mismatch' } });
    expect((run.result as { error: { message: string } }).error.message).toMatch(/SHA256:/);
    expect(run.ran).toBe(false);
    expect(await impostor.acceptedConnections()).toBe(0); // refused before authenticating
  });

  it('refuses a key marked @revoked even if it is also trusted', async () => {
    await bed.trustInKnownHosts(`@revoked * ${sshd.hostKey.publicKey}`, await knownHostsLine(sshd));
    const host = await bed.addHost({ port: sshd.port });
    expect((await runTouching(host.id)).result).toMatchObject({ error: { code: 'host_key_revoked' } });
  });

  it('accept-new: pins the first key seen, then refuses a different one', async () => {
    await bed.trustInKnownHosts();
    const host = await bed.addHost({ port: sshd.port, hostKeyPolicy: 'accept-new' });
    const first = await runTouching(host.id);
    expect(first.result).toMatchObject({ exitCode: 0 });
    expect((await bed.hostRow(host.id)).pinnedHostKeys).toEqual([sshd.hostKey.publicKey]);

    expect((await runTouching(host.id)).result).toMatchObject({ exitCode: 0 }); // same key: still fine

    // The host now answers with another key (re-installed, or an impostor on the path).
    await bed.database.sql`update hosts set port = ${impostor.port} where id = ${host.id}`;
    const after = await runTouching(host.id);
    expect(after.result).toMatchObject({ kind: 'exited', error: { code: 'host_key_mismatch' } });
    expect(after.ran).toBe(false);
    expect((await bed.hostRow(host.id)).pinnedHostKeys).toEqual([sshd.hostKey.publicKey]);
  });

  it('retires a pooled connection whose key is no longer pinned', async () => {
    await bed.trustInKnownHosts();
    const host = await bed.addHost({ port: sshd.port, pinnedHostKeys: [sshd.hostKey.publicKey] });
    const pool = bed.pool();
    try {
      expect((await bed.runJob(pool, host.id, 'true')).result).toMatchObject({ exitCode: 0 });
      await bed.database.sql`update hosts set pinned_host_keys = ${JSON.stringify([impostor.hostKey.publicKey])}::jsonb where id = ${host.id}`;
      const run = await bed.runJob(pool, host.id, 'echo must-not-run');
      expect(run.result).toMatchObject({ error: { code: 'host_key_mismatch' } });
      expect(run.stdout.length).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
