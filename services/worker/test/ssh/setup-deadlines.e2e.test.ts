import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '@vmo/shared/jobs';
import { generateKey, knownHostsLine, peakRssBytes, startSshd, TestSystem, waitFor, type KeyPair, type Sshd } from '@vmo/testkit';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/**
 * Far above every job timeout below: a job that ends near its timeout proves the timeout won
 * over a connect still in progress (before the fix, it waited for this).
 */
const CONNECT_TIMEOUT_MS = 180_000;

/**
 * Finding 1 of issue 8, on a real worker process: timeout and cancel win over SSH connection
 * setup, and a hostile identityFile neither grows the worker nor stalls its other SSH jobs.
 */
describe('ssh jobs on a worker process: connection setup never outlives the job', () => {
  let system: TestSystem;
  let dir: string;
  let userKey: KeyPair;
  let sshd: Sshd;
  /** Accepts TCP and never speaks: a handshake that hangs. */
  let silent: Server;
  const sockets: Socket[] = [];
  /** Connections to `silent` the worker still holds open. */
  let hanging = 0;
  const fifos: string[] = [];

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'vmo-ssh-setup-')));
    userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd)}\n`);
    silent = createServer((s) => {
      sockets.push(s);
      hanging++;
      s.on('error', () => {});
      s.on('close', () => hanging--);
      s.resume(); // read (and drop) what the worker sends, so its closing is noticed
    }).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    system = await TestSystem.start({
      label: 'ssh_setup',
      env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir, VMO_SSH_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) },
    });
  });
  afterAll(async () => {
    for (const f of fifos) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK)); // frees a reader the old code left blocked
      } catch {
        // nobody reads it
      }
    }
    for (const s of sockets) s.destroy();
    silent?.close();
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const silentPort = () => (silent.address() as { port: number }).port;
  let hosts = 0;
  async function addHost(fields: Record<string, unknown>): Promise<string> {
    const name = `h${++hosts}`;
    const res = await system.client.request('POST', '/v1/hosts', { name, host: '127.0.0.1', user: 'root', port: sshd.port, identityFile: userKey.privatePath, ...fields });
    if (res.status !== 201) throw new Error(`POST /v1/hosts: ${res.status} ${res.text}`);
    return name;
  }
  const submit = (host: string, job: Record<string, unknown> = {}) => system.client.submit({ command: 'echo ran', target: { type: 'ssh', host }, ...job });
  const ranFor = (job: JobView) => Date.parse(job.finishedAt!) - Date.parse(job.startedAt!);

  it('a host that accepts TCP and never speaks: the job ends timed_out at its timeout, not at the connect timeout', async () => {
    const host = await addHost({ port: silentPort() });
    const job = await submit(host, { timeoutMs: 2000 });
    const ended = await system.client.waitForEnd(job.id, 45_000);
    expect(ended).toMatchObject({ status: 'timed_out', exitCode: null });
    expect(ranFor(ended)).toBeLessThan(30_000);
    // The abandoned setup is torn down too, not left to its own connect timeout.
    await waitFor('the worker to close the hanging connection', () => hanging === 0, 20_000);
  });

  it('the same behind a ProxyJump bastion that never speaks', async () => {
    const host = await addHost({ proxyJump: `root@127.0.0.1:${silentPort()}` });
    const job = await submit(host, { timeoutMs: 2000 });
    const ended = await system.client.waitForEnd(job.id, 45_000);
    expect(ended).toMatchObject({ status: 'timed_out', exitCode: null });
    expect(ranFor(ended)).toBeLessThan(30_000);
  });

  it('a cancel during a hanging connection setup ends the job canceled at once', async () => {
    const host = await addHost({ port: silentPort() });
    const job = await submit(host, { timeoutMs: 3_600_000 });
    await system.client.waitForStatus(job.id, 'running');
    const canceledAt = Date.now();
    expect((await system.client.request('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(202);
    const ended = await system.client.waitForEnd(job.id, 45_000);
    expect(ended).toMatchObject({ status: 'canceled', exitCode: null });
    expect(Date.parse(ended.finishedAt!) - canceledAt).toBeLessThan(30_000);
    await waitFor('the worker to close the hanging connection', () => hanging === 0, 20_000);
  });

  it('identityFile /dev/zero: the job fails at once with ssh_key_unusable and the worker does not grow', async () => {
    const worker = system.workers[0]!.pid;
    const peakBefore = peakRssBytes(worker);
    const host = await addHost({ identityFile: '/dev/zero' });
    const job = await submit(host, { timeoutMs: 3000 });
    const ended = await system.client.waitForEnd(job.id, 60_000);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'ssh_key_unusable', message: expect.stringContaining('identity file /dev/zero is not a readable key under VMO_SSH_KEY_DIRS') } });
    expect(peakRssBytes(worker) - peakBefore).toBeLessThan(64 * MiB);
  });

  it('four hosts with FIFO keys do not stall a normal SSH job running beside them', async () => {
    const stuck: string[] = [];
    for (let i = 0; i < 4; i++) {
      const fifo = join(dir, `fifo_${i}`);
      await run('mkfifo', [fifo]);
      fifos.push(fifo);
      stuck.push(await addHost({ identityFile: fifo }));
    }
    const stuckJobs = await Promise.all(stuck.map((h) => submit(h, { timeoutMs: 600_000 })));
    const normal = await submit(await addHost({}), { timeoutMs: 600_000 });
    const ended = await system.client.waitForEnd(normal.id, 60_000);
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await system.client.logs(normal.id)).toString()).toBe('ran\n');
    for (const j of stuckJobs) expect(await system.client.waitForEnd(j.id, 60_000)).toMatchObject({ status: 'failed', error: { code: 'ssh_key_unusable' } });
  });
});
