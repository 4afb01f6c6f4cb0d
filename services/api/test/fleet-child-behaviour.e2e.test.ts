import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { generateKey, knownHostsLine, startSshd, TestSystem, type Sshd } from '@vmo/testkit';
import { jobBehaviourSuite } from './job-behaviour-suite.ts';

/**
 * Issue 10, "Must hold": a child is the same job a single submission would be. The shared job
 * suite (the one local, agent and SSH jobs pass) runs against children of fleet runs, one run of
 * one target per job: on a real agent process, and on an SSH host (a real sshd). The child is
 * then followed, canceled and read as any job is (GET/POST /v1/jobs/{id}…).
 */
describe('a fleet run child behaves as a single job (real API + worker + agent + sshd)', () => {
  let system: TestSystem;
  let sshd: Sshd;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-run-child-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({ label: 'fleet_child', env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir } });
    const res = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'runs', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(res.status).toBe(201);
    await system.startAgent('run-child', { env: { E2E_AGENT_SECRET: 'must-not-leak' } });
  });
  afterAll(async () => {
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** POST /v1/runs with the job's fields and one target; the job is the run's only child. */
  const childOf = (targets: Record<string, unknown>, kind: 'agent' | 'ssh') => async (job: Record<string, unknown>) => {
    const res = await system.client.request('POST', '/v1/runs', { ...job, targets });
    expect(res.status, res.text).toBe(201);
    expect(res.body.total).toBe(1);
    const page = await system.client.request('GET', `/v1/runs/${res.body.id}/jobs`);
    expect(page.status, page.text).toBe(200);
    expect(page.body.items).toHaveLength(1);
    const child = page.body.items[0] as { id: string; target: { kind: string } };
    expect(child.target.kind).toBe(kind);
    expect((await system.client.job(child.id)).runId).toBe(res.body.id);
    return { id: child.id };
  };

  describe('on an agent', () => {
    jobBehaviourSuite(() => ({ client: system.client, target: {}, hostOnlyVar: 'E2E_AGENT_SECRET', submit: childOf({ agents: ['run-child'] }, 'agent') }));
  });

  describe('on an SSH host', () => {
    jobBehaviourSuite(() => ({ client: system.client, target: {}, hostOnlyVar: 'VMO_DATABASE_URL', submit: childOf({ hosts: ['box@runs'] }, 'ssh') }));
  });
});
