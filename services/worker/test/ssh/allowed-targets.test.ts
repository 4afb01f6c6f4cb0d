import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine, startSshd, type Sshd } from '@vmo/testkit';
import { parseAllowedTargets, type ResolveName } from '@vmo/ssh';
import { capturedLog } from './captured-log.ts';
import { SshTestBed } from './ssh-test-bed.ts';

/**
 * Finding 11 of issue 8: with VMO_SSH_ALLOWED_TARGETS set, the worker dials only what it allows,
 * for the host and every ProxyJump hop, judging the address it actually connects to.
 */
describe('ssh executor: VMO_SSH_ALLOWED_TARGETS', () => {
  let bed: SshTestBed;
  let bastion: Sshd;
  let target: Sshd;
  /** A TCP listener that counts connections: proof that nothing was dialled. */
  let tripwire: Server;
  let tripped = 0;

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_allowed');
    const keys = { authorizedKeys: [bed.userKey.publicKey] };
    [bastion, target] = await Promise.all([startSshd(keys), startSshd(keys)]);
    await bed.trustInKnownHosts(await knownHostsLine(bastion), await knownHostsLine(target));
    tripwire = createServer((s) => {
      tripped++;
      s.destroy();
    }).listen(0, '127.0.0.1');
    await once(tripwire, 'listening');
  });
  afterAll(async () => {
    tripwire?.close();
    await Promise.all([bastion, target].map((s) => s?.stop()));
    await bed?.close();
  });

  async function runWith(allowed: string, host: Parameters<SshTestBed['addHost']>[0], resolveName?: ResolveName) {
    const log = capturedLog();
    const pool = bed.pool({ settings: { allowedTargets: parseAllowedTargets(allowed), log: log.logger, ...(resolveName ? { resolveName } : {}) } });
    try {
      const run = await bed.runJob(pool, (await bed.addHost(host)).id, 'echo ran');
      return { ...run, log: log.text() };
    } finally {
      await pool.close();
    }
  }
  const tripwirePort = () => (tripwire.address() as { port: number }).port;
  /** A name the real resolver does not know: only the stand-in resolves it, so a second lookup elsewhere would fail. */
  const fakeName = 'rebinding.vmo-test.invalid';

  it('refuses an address outside the allowed CIDRs before any connection, with ssh_target_not_allowed', async () => {
    const before = tripped;
    const run = await runWith('10.0.0.0/8,*.internal', { port: tripwirePort() });
    expect(run.result).toMatchObject({ error: { code: 'ssh_target_not_allowed', message: `127.0.0.1:${tripwirePort()} is not an allowed SSH target (VMO_SSH_ALLOWED_TARGETS); nothing was dialled` } });
    expect(tripped).toBe(before);
  });

  it('allows an address inside an allowed CIDR', async () => {
    const run = await runWith('10.0.0.0/8,127.0.0.0/8', { port: target.port });
    expect(run.stdout.toString()).toBe('ran\n');
  });

  it('refuses a name that resolves into a disallowed network', async () => {
    const before = tripped;
    const run = await runWith('10.0.0.0/8', { host: 'localhost', port: tripwirePort() });
    expect(run.result).toMatchObject({ error: { code: 'ssh_target_not_allowed' } });
    expect(tripped).toBe(before);
    expect(run.log).toContain('resolves to 127.0.0.1'); // for the operator, not in the job
    expect(JSON.stringify(run.result)).not.toContain('resolves to');
  });

  it('answers a name that does not resolve the same as one outside the policy (no oracle for which internal names exist)', async () => {
    const refuse: ResolveName = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const run = await runWith('10.0.0.0/8', { host: 'no-such-host.invalid', port: tripwirePort() }, refuse);
    expect(run.result).toMatchObject({ error: { code: 'ssh_target_not_allowed' } });
    expect(JSON.stringify(run.result)).not.toMatch(/ENOTFOUND|resolve/);
    expect(run.log).toContain('cannot resolve no-such-host.invalid'); // for the operator
  });

  it('connects to the very address it checked: a DNS answer that changes after the check is never used', async () => {
    let lookups = 0;
    // First answer allowed, every later one not (DNS rebinding). The name is unknown to the real
    // resolver, so the job only succeeds if nothing resolves it a second time.
    const rebinding: ResolveName = async () => (lookups++ === 0 ? [{ address: '127.0.0.1' }] : [{ address: '169.254.169.254' }]);
    const run = await runWith('127.0.0.0/8', { host: fakeName, port: target.port, pinnedHostKeys: [target.hostKey.publicKey] }, rebinding);
    expect(run.result).toMatchObject({ exitCode: 0 });
    expect(run.stdout.toString()).toBe('ran\n');
    expect(lookups).toBe(1);

    const refused = await runWith('127.0.0.0/8', { host: fakeName, port: target.port, pinnedHostKeys: [target.hostKey.publicKey] }, async () => [{ address: '169.254.169.254' }]);
    expect(refused.result).toMatchObject({ error: { code: 'ssh_target_not_allowed' } });
  });

  it('allows a name by host pattern without resolving it', async () => {
    const run = await runWith('10.0.0.0/8,LOCAL*', { host: 'localhost', port: target.port, pinnedHostKeys: [target.hostKey.publicKey] }, async () => {
      throw new Error('a name allowed by pattern must not need a lookup');
    });
    expect(run.stdout.toString()).toBe('ran\n');
  });

  it('checks every ProxyJump hop: a disallowed target behind an allowed bastion is refused before the bastion is dialled', async () => {
    const before = await bastion.acceptedConnections();
    const hop = await bed.addHost({ port: bastion.port });
    const run = await runWith('127.0.0.1/32', { host: '127.0.0.2', port: 22, proxyJump: hop.name });
    expect(run.result).toMatchObject({ error: { code: 'ssh_target_not_allowed', message: expect.stringMatching(/^127\.0\.0\.2:22 via bastion .* is not an allowed SSH target/) } });
    expect(await bastion.acceptedConnections()).toBe(before);
  });

  it('checks every ProxyJump hop: a disallowed bastion is refused, the target never reached', async () => {
    const before = tripped;
    const run = await runWith('127.0.0.2/32', { host: '127.0.0.2', port: 22, proxyJump: `root@127.0.0.1:${tripwirePort()}` });
    expect(run.result).toMatchObject({ error: { code: 'ssh_target_not_allowed', message: expect.stringContaining(`127.0.0.1:${tripwirePort()}`) } });
    expect(tripped).toBe(before);
  });

  it('forwards through the bastion to the checked address of a name, and by name when a pattern allows it', async () => {
    const hop = await bed.addHost({ port: bastion.port });
    const pinned = { port: target.port, proxyJump: hop.name, pinnedHostKeys: [target.hostKey.publicKey] };
    let lookups = 0;
    const byAddress = await runWith('127.0.0.0/8', { host: fakeName, ...pinned }, async () => (lookups++ === 0 ? [{ address: '127.0.0.1' }] : [{ address: '169.254.169.254' }]));
    expect(byAddress.stdout.toString()).toBe('ran\n'); // the bastion could not have resolved the fake name itself
    const byName = await runWith('127.0.0.1,localhost', { host: 'localhost', ...pinned }, async () => {
      throw new Error('a name allowed by pattern must not need a lookup');
    });
    expect(byName.stdout.toString()).toBe('ran\n');
  });
});
