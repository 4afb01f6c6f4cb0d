import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, TestSystem, type Sshd } from '@vmo/testkit';
import { jobBehaviourSuite } from './job-behaviour-suite.ts';

/** SSH jobs through the real API and worker processes, against a real sshd: the same suite as local and agent jobs. */
describe('ssh jobs (real API + worker + sshd)', () => {
  let system: TestSystem;
  let sshd: Sshd;
  let dir: string;
  let identityFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-ssh-e2e-'));
    const userKey = await generateKey(dir, 'user_key');
    identityFile = userKey.privatePath;
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({ label: 'ssh_jobs', env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir } });
    const res = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  jobBehaviourSuite(() => ({ client: system.client, target: { type: 'ssh', host: 'box@e2e' }, hostOnlyVar: 'VMO_DATABASE_URL' }));

  it('fails the job with host_key_mismatch when the host presents another key', async () => {
    const impostor = await startSshd({ authorizedKeys: [] });
    try {
      // Point the inventory at a server whose key is not the trusted one.
      await system.client.request('POST', '/v1/hosts', { name: 'box-moved', environment: 'e2e', host: '127.0.0.1', port: impostor.port, user: 'root', identityFile, pinnedHostKeys: [sshd.hostKey.publicKey] });
      const job = await system.client.submit({ command: 'echo never', target: { type: 'ssh', host: 'box-moved@e2e' } });
      const ended = await system.client.waitForEnd(job.id);
      expect(ended).toMatchObject({ status: 'failed', outputBytes: 0, error: { code: 'host_key_mismatch' } });
    } finally {
      await impostor.stop();
    }
  });
});
