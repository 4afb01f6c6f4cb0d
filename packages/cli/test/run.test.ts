/**
 * `vmo run` and `vmo logs` / `vmo cancel`, the real CLI as a child process against a real system
 * (API, worker, a real agent named `local`): output byte for byte on the right stream, the exit
 * status of every way a job ends, and the one-file bundle run from a directory with nothing else.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import { CLI_BIN, CLI_ROOT, runCli, startCli, startAgent, useBundle } from './run-cli.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Each case runs vmo several times: deadlines for a loaded machine, not measures.
describe('vmo run (real system)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let scratch: string;
  let env: Record<string, string>;
  let bundle: string;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_run' }), useBundle()]);
    await startAgent(system, 'local');
    scratch = mkdtempSync(join(tmpdir(), 'vmo-cli-run-'));
    // An empty config directory: the server and token come from the environment only.
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(scratch, 'config') };
  }, 240_000); // a loaded machine starts processes slowly: a deadline, not a measure
  afterAll(async () => {
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  it("prints the command's output and exits with its exit code, on the local target and on an agent", async () => {
    for (const on of ['local', 'agent:local']) {
      // The repository's bin (`npx vmo`), as the done-when runs it.
      const r = await runCli(['run', '--on', on, '--', 'sh', '-c', 'echo hi; exit 3'], { env, script: CLI_BIN });
      expect({ on, code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({ on, code: 3, stdout: 'hi\n', stderr: '' });
    }
    // One argument is a shell line as it is.
    const line = await runCli(['run', '--', 'echo "a  b"; exit 0'], { env });
    expect([line.code, line.stdout.toString()]).toEqual([0, 'a  b\n']);
    // Several are quoted so the command gets each exactly: spaces, quotes and $ are not the shell's.
    const args = await runCli(['run', '--', 'printf', '[%s]\\n', "it's", '$HOME', 'a  b'], { env });
    expect([args.code, args.stdout.toString()]).toEqual([0, "[it's]\n[$HOME]\n[a  b]\n"]);
  });

  it('keeps stdout and stderr apart, byte for byte, and passes --env and --cwd', async () => {
    const r = await runCli(['run', '-e', 'GREETING=hello there', '--cwd', '/tmp', '--', 'sh', '-c', 'printf "$GREETING\\n"; pwd; printf "oops\\n" >&2; printf "\\001\\377" >&2'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('hello there\n/tmp\n');
    expect(r.stderr).toEqual(Buffer.from('oops\n\x01\xff', 'latin1'));
  });

  it('carries 1 MiB of random binary output exactly (sha256), on the local target and on an agent', async () => {
    for (const on of ['local', 'agent:local']) {
      const file = join(scratch, `random-${on.replace(':', '-')}.bin`);
      const r = await runCli(['run', '--on', on, '--', 'sh', '-c', `head -c 1048576 /dev/urandom | tee ${file}`], { env });
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(1_048_576);
      expect(sha256(r.stdout)).toBe(sha256(readFileSync(file)));
      // And vmo logs gives the same bytes back from Postgres.
      const jobId = (await system.client.vmo.jobs.list({ limit: 1 })).items[0]!.id;
      const logs = await runCli(['logs', jobId], { env });
      expect(sha256(logs.stdout)).toBe(sha256(readFileSync(file)));
    }
  });

  it('exits 128 + the signal when the command is killed, and 72 when it times out', async () => {
    const killed = await runCli(['run', '--', 'sh', '-c', 'kill -KILL $$'], { env });
    expect(killed.code).toBe(137);
    const term = await runCli(['run', '--on', 'agent:local', '--', 'sh', '-c', 'kill -TERM $$'], { env });
    expect(term.code).toBe(143);
    const slow = await runCli(['run', '--timeout', '1s', '--', 'sleep', '30'], { env });
    expect(slow.code).toBe(72);
    expect(slow.stderr.toString()).toMatch(/timed_out/);
  });

  it('exits 70 with the API error code and message on stderr when the API refuses', async () => {
    const r = await runCli(['run', '--on', 'agent:nobody', '--', 'true'], { env });
    expect(r.code).toBe(70);
    expect(r.stderr.toString()).toMatch(/^vmo: unknown_agent: /);
    expect(r.stderr.toString()).not.toMatch(/\x1b\[/); // no colour into a pipe
    const badToken = await runCli(['run', '--', 'true'], { env: { ...env, VMO_TOKEN: 'vmo_usr_wrong' } });
    expect([badToken.code, badToken.stderr.toString()]).toEqual([70, expect.stringMatching(/^vmo: unauthorized: /)]);
    const usage = await runCli(['run', '--on', 'moon', '--', 'true'], { env });
    expect(usage.code).toBe(2);
    // Bad usage is 2 even with no server configured: the flags are checked before vmo looks for one.
    const noServer = { XDG_CONFIG_HOME: join(scratch, 'no-config') };
    const moon = await runCli(['run', '--on', 'moon', '--', 'true'], { env: noServer });
    expect([moon.code, moon.stderr.toString()]).toEqual([2, expect.stringMatching(/^vmo: usage: --on: "moon" is not a target/)]);
    const paging = await runCli(['jobs', 'ls', '--all', '--limit', '1'], { env: noServer });
    expect([paging.code, paging.stderr.toString()]).toEqual([2, expect.stringMatching(/^vmo: usage: --all and --limit/)]);
  });

  it('--detach prints the job id; vmo logs -f follows it and exits with its code; vmo logs --stream picks one', async () => {
    const r = await runCli(['run', '--detach', '--', 'sh', '-c', 'sleep 1; echo out; echo err >&2; exit 5'], { env });
    expect(r.code).toBe(0);
    const jobId = r.stdout.toString().trim();
    expect(jobId).toMatch(/^job_[0-9a-z]{20}$/);
    const followed = await runCli(['logs', '-f', jobId], { env });
    expect([followed.code, followed.stdout.toString(), followed.stderr.toString()]).toEqual([5, 'out\n', 'err\n']);
    const errOnly = await runCli(['logs', '--stream', 'stderr', jobId], { env });
    expect([errOnly.code, errOnly.stdout.toString()]).toEqual([0, 'err\n']);
    const both = await runCli(['logs', jobId], { env });
    expect([both.stdout.toString(), both.stderr.toString()]).toEqual(['out\n', 'err\n']);
    // --detach --json: the job as POST /v1/jobs answered it.
    const asJson = await runCli(['run', '--detach', '--json', '--', 'true'], { env });
    expect(asJson.code, asJson.stderr.toString()).toBe(0);
    const submitted = JSON.parse(asJson.stdout.toString());
    expect(submitted).toMatchObject({ id: expect.stringMatching(/^job_[0-9a-z]{20}$/), command: 'true', target: { type: 'local' } });
  });

  it('vmo cancel cancels a job (and the vmo run following it exits 130)', async () => {
    const running = startCli(['run', '--', 'sh', '-c', 'echo started; sleep 60'], { env });
    await waitFor('the job to start', () => running.stdout().toString().includes('started'), 30_000);
    const jobId = (await system.client.vmo.jobs.list({ limit: 1, status: 'running' })).items[0]!.id;
    // --json: the job as the API answered the cancel.
    const cancel = await runCli(['cancel', '--json', jobId], { env });
    expect(cancel.code, cancel.stderr.toString()).toBe(0);
    expect(JSON.parse(cancel.stdout.toString())).toMatchObject({ id: jobId, status: expect.stringMatching(/^(running|canceled)$/) });
    const r = await running.done;
    expect(r.code).toBe(130);
    expect((await system.client.job(jobId)).status).toBe('canceled');
    const again = await runCli(['cancel', jobId], { env });
    expect([again.code, again.stderr.toString()]).toEqual([70, expect.stringMatching(/^vmo: job_ended: /)]);
    expect((await runCli(['cancel', 'nonsense'], { env })).code).toBe(2);
  });

  it('the bundle (dist/vmo.mjs) works alone: --version and a real run from a directory without node_modules', async () => {
    execFileSync('npm', ['run', 'build', '-w', '@vmo/cli'], { cwd: join(CLI_ROOT, '../..'), stdio: 'pipe' });
    const alone = mkdtempSync(join(tmpdir(), 'vmo-bundle-'));
    try {
      copyFileSync(join(CLI_ROOT, 'dist/vmo.mjs'), join(alone, 'vmo.mjs'));
      const version = await runCli(['--version'], { script: join(alone, 'vmo.mjs'), cwd: alone });
      expect([version.code, version.stdout.toString().trim()]).toEqual([0, JSON.parse(readFileSync(join(CLI_ROOT, 'package.json'), 'utf8')).version]);
      const r = await runCli(['run', '--on', 'agent:local', '--', 'sh', '-c', 'echo hi; exit 3'], { script: join(alone, 'vmo.mjs'), cwd: alone, env });
      expect([r.code, r.stdout.toString(), r.stderr.toString()]).toEqual([3, 'hi\n', '']);
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  });
});
