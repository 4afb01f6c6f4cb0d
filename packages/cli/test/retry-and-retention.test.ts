/**
 * Issue 14 in the CLI, the real `vmo` as a child process against a real system (API, worker, local
 * jobs): `vmo run --retry N [--retry-on …] [--retry-backoff …] [--retry-jitter …]` becomes the
 * job's `retry` (followed through every attempt to the last one's exit code), `--retain-days` its
 * `retainDays`; `vmo logs --attempt N` prints one attempt's output (and -f from it on); a job whose
 * output retention deleted says `output_expired`; bad flag values are usage errors (exit 2) before
 * any server is asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '@vmo/shared/db';
import { TestSystem } from '@vmo/testkit';
import { runCli, useBundle } from './run-cli.ts';

describe('vmo run --retry, --retain-days and vmo logs --attempt (real system)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let database: Database;
  let scratch: string;
  let bundle: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_retry' }), useBundle()]);
    database = openDatabase(system.databaseUrl, { max: 2 });
    scratch = mkdtempSync(join(tmpdir(), 'vmo-cli-retry-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(scratch, 'config') };
  }, 240_000);
  afterAll(async () => {
    await database?.close();
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  /** Counts its runs in a file; fails (exit 3) until run `okFrom`. */
  const flaky = (name: string, okFrom: number) => {
    const f = join(scratch, name);
    return `n=$(cat '${f}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${f}'; echo "run $n"; [ $n -ge ${okFrom} ] || exit 3`;
  };
  const latestJob = async () => (await system.client.vmo.jobs.list({ limit: 1 })).items[0]!;

  it('--retry 2 with a fixed backoff: followed through three attempts, exits 0; the job carries the policy', async () => {
    const r = await runCli(['run', '--retry', '2', '--retry-backoff', 'fixed:200ms', '--retry-jitter', '0.5', '--', flaky('three', 3)], { env });
    expect([r.code, r.stdout.toString(), r.stderr.toString()]).toEqual([0, 'run 1\nrun 2\nrun 3\n', '']);
    const job = await latestJob();
    expect(job).toMatchObject({ status: 'succeeded', attempt: 3, retry: { max: 2, backoff: { type: 'fixed', delayMs: 200, jitter: 0.5 }, on: { exitCodes: 'nonzero' } } });

    // One attempt's output; -f from an attempt through the later ones; one past the last is the API's 404.
    for (const n of [1, 2, 3]) expect((await runCli(['logs', '--attempt', String(n), job.id], { env })).stdout.toString()).toBe(`run ${n}\n`);
    expect((await runCli(['logs', '--attempt', '2', '--stream', 'stdout', job.id], { env })).stdout.toString()).toBe('run 2\n');
    const followed = await runCli(['logs', '-f', '--attempt', '2', job.id], { env });
    expect([followed.code, followed.stdout.toString()]).toEqual([0, 'run 2\nrun 3\n']);
    const far = await runCli(['logs', '--attempt', '9', job.id], { env });
    expect([far.code, far.stderr.toString()]).toEqual([70, expect.stringMatching(/^vmo: not_found: .*has no attempt 9/)]);
  });

  it('--retry-on names what is retried: an exit code it does not name ends the job at once', async () => {
    const r = await runCli(['run', '--retry', '5', '--retry-on', '75,lost,timeout', '--', flaky('once', 9)], { env });
    expect([r.code, r.stdout.toString()]).toEqual([3, 'run 1\n']);
    expect(await latestJob()).toMatchObject({ status: 'failed', attempt: 1, exitCode: 3, retry: { max: 5, on: { exitCodes: [75], lost: true, timedOut: true } } });
    const nonzero = await runCli(['run', '--retry', '1', '--retry-on', 'nonzero,offline', '--retry-backoff', 'exponential:100ms:1s', '--', flaky('twice', 2)], { env });
    expect([nonzero.code, nonzero.stdout.toString()]).toEqual([0, 'run 1\nrun 2\n']);
    expect((await latestJob()).retry).toMatchObject({ max: 1, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 1000 }, on: { exitCodes: 'nonzero', agentOffline: true } });
  });

  it('--retain-days is the job retainDays; a job whose output expired says output_expired', async () => {
    const r = await runCli(['run', '--retain-days', '365', '--', 'echo kept'], { env });
    expect([r.code, r.stdout.toString()]).toEqual([0, 'kept\n']);
    const job = await latestJob();
    expect(job.retainDays).toBe(365);
    // As the retention pass leaves it (retention.test.ts in the worker proves the pass).
    await database.sql`update jobs set output_expired_at = clock_timestamp() where id = ${job.id}`;
    await database.sql`delete from job_output where job_id = ${job.id}`;
    for (const args of [['logs', job.id], ['logs', '-f', job.id]]) {
      const gone = await runCli(args, { env });
      expect([gone.code, gone.stdout.toString(), gone.stderr.toString()], args.join(' ')).toEqual([70, '', expect.stringMatching(new RegExp(`^vmo: output_expired: job "${job.id}": its output was deleted by retention`))]);
    }
  });

  it.each([
    [['run', '--retry-on', 'lost', '--', 'true'], /^vmo: usage: --retry-on needs --retry N/],
    [['run', '--retry-backoff', 'fixed:1s', '--', 'true'], /^vmo: usage: --retry-backoff needs --retry N/],
    [['run', '--retry', 'x', '--', 'true'], /^vmo: usage: --retry: "x" must be a whole number from 0 to 100/],
    [['run', '--retry', '101', '--', 'true'], /^vmo: usage: --retry: "101" must be a whole number from 0 to 100/],
    [['run', '--retry', '1', '--retry-on', 'sometimes', '--', 'true'], /^vmo: usage: --retry-on: "sometimes" is not an end to retry/],
    [['run', '--retry', '1', '--retry-on', '0', '--', 'true'], /^vmo: usage: --retry-on: "0" is not an end to retry/],
    [['run', '--retry', '1', '--retry-on', 'nonzero,3', '--', 'true'], /^vmo: usage: --retry-on: nonzero already retries every exit code/],
    [['run', '--retry', '1', '--retry-backoff', 'linear:1s', '--', 'true'], /^vmo: usage: --retry-backoff: "linear:1s" must be exponential:DELAY\[:MAX\] or fixed:DELAY/],
    [['run', '--retry', '1', '--retry-backoff', 'fixed:soon', '--', 'true'], /^vmo: usage: --retry-backoff: "soon" is not a duration/],
    [['run', '--retry', '1', '--retry-jitter', '2', '--', 'true'], /^vmo: usage: --retry-jitter: "2" must be a number from 0 to 1/],
    [['run', '--retain-days', '0', '--', 'true'], /^vmo: usage: --retain-days: "0" must be a whole number of days from 1 to 3650/],
    [['logs', '--attempt', '0', 'job_x'], /^vmo: usage: --attempt: "0" must be an attempt number/],
  ])('%j: a usage error (exit 2), no server asked', async (args, message) => {
    // No server configured: a usage error must come before any connection.
    const r = await runCli(args, { env: { XDG_CONFIG_HOME: join(scratch, 'none') } });
    expect([r.code, r.stderr.toString()]).toEqual([2, expect.stringMatching(message)]);
  });
});
