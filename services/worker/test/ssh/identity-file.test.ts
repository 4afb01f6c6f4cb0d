import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, knownHostsLine, startSshd, type KeyPair, type Sshd } from '@vmo/testkit';
import { capturedLog } from './captured-log.ts';
import { endsWithin } from './ends-within.ts';
import { keyRefusal } from './key-refusal.ts';
import { SshTestBed, type JobRun } from './ssh-test-bed.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/**
 * Finding 1 of issue 8: an inventory host's identityFile is hostile input. Only a regular file of
 * bounded size under VMO_SSH_KEY_DIRS is read; anything else fails the job at once with one
 * message, without growing the worker or tying up its thread pool.
 */
describe('ssh executor: identity files', () => {
  let bed: SshTestBed;
  let sshd: Sshd;
  let outsideDir: string;
  let outsideKey: KeyPair;
  const fifos: string[] = [];

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_keyfile');
    outsideDir = await mkdtemp(join(tmpdir(), 'vmo-outside-keys-'));
    outsideKey = await generateKey(outsideDir, 'outside_key');
    sshd = await startSshd({ authorizedKeys: [bed.userKey.publicKey, outsideKey.publicKey] });
    await bed.trustInKnownHosts(await knownHostsLine(sshd));
  });
  afterAll(async () => {
    // Old code left readers blocked on these FIFOs: a writer that opens and closes gives them EOF.
    // Synchronous on purpose: a blocked thread pool would never run an async open.
    for (const f of fifos) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader: nothing is blocked on it
      }
    }
    await sshd?.stop();
    await bed?.close();
    if (outsideDir) await rm(outsideDir, { recursive: true, force: true });
  });

  /** The job on a host with this identity file; it must end well within `withinMs` (a hang fails the test, not the run). */
  async function jobWithKey(identityFile: string, opts: { log?: ReturnType<typeof capturedLog>; keyDirs?: string[]; withinMs?: number } = {}): Promise<JobRun> {
    const pool = bed.pool({ settings: { ...(opts.log ? { log: opts.log.logger } : {}), ...(opts.keyDirs ? { keyDirs: opts.keyDirs } : {}) } });
    try {
      const host = await bed.addHost({ port: sshd.port, identityFile });
      return await endsWithin(opts.withinMs ?? 20_000, `the job with identityFile ${identityFile}`, bed.runJob(pool, host.id, 'echo ran'));
    } finally {
      await endsWithin(20_000, 'closing the pool', pool.close()).catch(() => {});
    }
  }

  async function mkfifo(name: string): Promise<string> {
    const path = join(bed.dir, name);
    await run('mkfifo', [path]);
    fifos.push(path);
    return path;
  }

  it('refuses /dev/zero, a FIFO, a directory, a huge file, a missing file, a file outside the key dirs and a symlink escaping them, all with one message', async () => {
    const subdir = join(bed.dir, 'subdir');
    await mkdir(subdir);
    const huge = join(bed.dir, 'huge_key');
    await writeFile(huge, '');
    await truncate(huge, 512 * MiB); // sparse: costs no disk, would cost 512 MiB of worker memory
    const escaping = join(bed.dir, 'escaping_key');
    await symlink(outsideKey.privatePath, escaping);
    const cases: [string, RegExp, string[]?][] = [
      ['/dev/zero', /outside VMO_SSH_KEY_DIRS/],
      // Even from inside a key dir (an operator who lists /dev), a device is no key file.
      ['/dev/zero', /a character device/, [bed.dir, '/dev']],
      [await mkfifo('fifo_key'), /a FIFO/],
      [subdir, /a directory/],
      [huge, /more than the 65536/],
      [join(bed.dir, 'missing_key'), /ENOENT/],
      [outsideKey.privatePath, /outside VMO_SSH_KEY_DIRS/],
      [escaping, /outside VMO_SSH_KEY_DIRS/],
    ];
    const rssBefore = process.memoryUsage().rss;
    for (const [path, reason, keyDirs] of cases) {
      const log = capturedLog();
      const job = await jobWithKey(path, { log, keyDirs });
      expect(job.result, path).toMatchObject({ exitCode: null, error: { code: 'ssh_key_unusable', message: expect.stringMatching(keyRefusal(path)) } });
      expect(job.stdout.length).toBe(0);
      // The reason is for the operator: in the worker's log, never in the job.
      expect(log.text(), path).toMatch(reason);
      expect(job.result.kind === 'exited' && job.result.error?.message).not.toMatch(reason);
    }
    // /dev/zero and the 512 MiB file were never read into memory.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * MiB);
    expect(await sshd.acceptedConnections()).toBe(0); // refused before dialling
  });

  it('a normal job succeeds while four hosts with FIFO keys are tried at the same time', async () => {
    const paths = await Promise.all([1, 2, 3, 4].map((i) => mkfifo(`stuck_${i}`)));
    const pool = bed.pool();
    try {
      const stuck = await Promise.all(paths.map((identityFile) => bed.addHost({ port: sshd.port, identityFile })));
      const normal = await bed.addHost({ port: sshd.port });
      const runs = await endsWithin(
        30_000,
        'the four FIFO jobs and the normal job',
        Promise.all([...stuck.map((h) => bed.runJob(pool, h.id, 'echo stuck')), bed.runJob(pool, normal.id, 'echo fine')]),
      );
      for (const r of runs.slice(0, 4)) expect(r.result).toMatchObject({ error: { code: 'ssh_key_unusable' } });
      expect(runs[4]!.result).toMatchObject({ exitCode: 0 });
      expect(runs[4]!.stdout.toString()).toBe('fine\n');
    } finally {
      await endsWithin(20_000, 'closing the pool', pool.close()).catch(() => {});
    }
  });

  it('reads a key through a symlink that stays inside the key dirs, and from every configured dir', async () => {
    const inside = join(bed.dir, 'link_to_user_key');
    await symlink(bed.userKey.privatePath, inside);
    expect((await jobWithKey(inside)).stdout.toString()).toBe('ran\n');

    const pool = bed.pool({ settings: { keyDirs: [join(bed.dir, 'nowhere'), outsideDir] } });
    try {
      const host = await bed.addHost({ port: sshd.port, identityFile: outsideKey.privatePath });
      expect((await bed.runJob(pool, host.id, 'echo second-dir')).stdout.toString()).toBe('second-dir\n');
    } finally {
      await pool.close();
    }
  });
});
