import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine, processesMatching, sha256, startSshd, uniqueSleepArg, waitFor, type Sshd } from '@vmo/testkit';
import type { SshConnectionPool } from '@vmo/ssh';
import { cancel, SshTestBed } from './ssh-test-bed.ts';


describe('ssh executor: running commands on a real sshd', () => {
  let bed: SshTestBed;
  let sshd: Sshd;
  let pool: SshConnectionPool;
  let hostId: string;

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_exec');
    sshd = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
    await bed.trustInKnownHosts(await knownHostsLine(sshd));
    pool = bed.pool();
    hostId = (await bed.addHost({ port: sshd.port })).id;
  });
  afterAll(async () => {
    await pool?.close();
    await sshd?.stop();
    await bed?.close();
  });

  it('runs a command and records exit code 0 with its stdout', async () => {
    const run = await bed.runJob(pool, hostId, 'echo hello; echo "$VMO_JOB_ID"');
    expect(run.result).toEqual({ kind: 'exited', exitCode: 0, signal: null, truncated: false });
    expect(run.stdout.toString()).toBe(`hello\n${run.job.id}\n`);
    expect(run.stderr.length).toBe(0);
  });

  it('records non-zero exit codes and keeps stderr apart, without the wrapper markers', async () => {
    const run = await bed.runJob(pool, hostId, "printf 'out\\n'; printf 'err-1\\n' >&2; printf 'err-2' >&2; exit 42");
    expect(run.result).toMatchObject({ kind: 'exited', exitCode: 42, signal: null });
    expect(run.stdout.toString()).toBe('out\n');
    expect(run.stderr.toString()).toBe('err-1\nerr-2');
  });

  it('records the signal name when the command dies by a signal', async () => {
    const run = await bed.runJob(pool, hostId, 'kill -TERM $$');
    expect(run.result).toMatchObject({ kind: 'exited', exitCode: null, signal: 'SIGTERM' });
  });

  it('passes env (quotes, newlines, dollars intact) and cwd', async () => {
    const tricky = `it's "quoted" $HOME \`x\` \\ \n second line`;
    const run = await bed.runJob(pool, hostId, 'printf %s "$TRICKY"; echo; pwd', { env: { TRICKY: tricky }, cwd: '/tmp' });
    expect(run.result).toMatchObject({ exitCode: 0 });
    expect(run.stdout.toString()).toBe(`${tricky}\n/tmp\n`);
  });

  it('fails with spawn_failed when the cwd does not exist on the host, running nothing', async () => {
    const run = await bed.runJob(pool, hostId, 'echo should-not-run', { cwd: '/nonexistent/vmo-dir' });
    expect(run.result).toMatchObject({ kind: 'exited', exitCode: null, error: { code: 'spawn_failed' } });
    expect(run.stdout.length).toBe(0);
  });

  it('stores 1 MiB of random bytes byte-identical on stdout and on stderr', async () => {
    const run = await bed.runJob(pool, hostId, 'head -c 1048576 /dev/urandom > /tmp/vmo-rand-$VMO_JOB_ID; cat /tmp/vmo-rand-$VMO_JOB_ID; cat /tmp/vmo-rand-$VMO_JOB_ID >&2; sha256sum < /tmp/vmo-rand-$VMO_JOB_ID >&2; rm /tmp/vmo-rand-$VMO_JOB_ID');
    expect(run.result).toMatchObject({ exitCode: 0, truncated: false });
    expect(run.stdout.length).toBe(1048576);
    const remoteSum = run.stderr.subarray(1048576).toString().split(' ')[0];
    expect(sha256(run.stdout)).toBe(remoteSum);
    expect(sha256(run.stderr.subarray(0, 1048576))).toBe(remoteSum);
  });

  it('applies the output cap: head, marker, tail', async () => {
    const run = await bed.runJob(pool, hostId, 'seq 1 100000', { limits: { maxOutputBytes: 4096, tailBytes: 1024 } });
    expect(run.result).toMatchObject({ exitCode: 0, truncated: true });
    expect(run.stdout.subarray(0, 8).toString()).toBe('1\n2\n3\n4\n');
    expect(run.stdout.subarray(-7).toString()).toBe('100000\n');
    expect(run.stderr.toString()).toMatch(/output over the limit/);
  });

  it('a cancel kills the whole remote process group, including children that ignore SIGTERM', async () => {
    const marker = uniqueSleepArg();
    const stop = new AbortController();
    // A background child that ignores TERM must still be gone after the grace (SIGKILL to the group).
    const pending = bed.runJob(pool, hostId, `sh -c 'trap "" TERM; sleep ${marker}' & sleep ${marker}; wait`, { stop: stop.signal });
    await waitFor('the remote sleeps to start', async () => (await processesMatching(`sleep ${marker}`)).length >= 2);
    cancel(stop, 500);
    const run = await pending;
    expect(run.result).toMatchObject({ kind: 'exited' });
    await waitFor('no remote process of the job left', async () => (await processesMatching(marker)).length === 0);
  });

  it('a cancel before the command started runs nothing', async () => {
    const stop = new AbortController();
    cancel(stop);
    const run = await bed.runJob(pool, hostId, 'echo ran', { stop: stop.signal });
    expect(run.result).toMatchObject({ kind: 'exited', exitCode: null });
    expect(run.stdout.length).toBe(0);
  });

  it('fails with unknown_host when the host was deleted after submit', async () => {
    const run = await bed.runJob(pool, 'host_00000000000000000000', 'echo x');
    expect(run.result).toMatchObject({ kind: 'exited', error: { code: 'unknown_host' } });
  });
});
