import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { processesMatching, sha256, uniqueSleepArg, waitFor, type ApiClient } from '@vmo/testkit';

export interface JobBehaviourContext {
  client: ApiClient;
  target: Record<string, unknown>;
  /** A variable set in the environment of the process that runs the command (worker or agent): the job must not see it. */
  hostOnlyVar: string;
  /** How a job is made (default: POST /v1/jobs with `target`); a fleet run's child is made by a run of one target. */
  submit?: (job: Record<string, unknown>) => Promise<{ id: string }>;
}


/** One ndjson line of GET /v1/jobs/{id}/logs?format=ndjson. */
interface LogLine {
  seq: number;
  stream: 'stdout' | 'stderr';
  data: string;
  ts: string;
}

export async function ndjsonLogs(client: ApiClient, jobId: string, query = ''): Promise<LogLine[]> {
  const raw = (await client.logs(jobId, `?format=ndjson${query}`)).toString('utf8');
  return raw
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

/** Wait until the job's command runs: its processes are visible, so a cancel hits a live process group. */
export async function waitForProcesses(pattern: string, atLeast = 1): Promise<number[]> {
  return waitFor(`processes matching ${pattern}`, async () => {
    const pids = await processesMatching(pattern);
    return pids.length >= atLeast ? pids : undefined;
  }, 30_000, 50);
}

export async function waitForNoProcess(pattern: string): Promise<void> {
  await waitFor(`no process left matching ${pattern}`, async () => (await processesMatching(pattern)).length === 0, 30_000, 100);
}

/**
 * What a user relies on for any target, local or agent: the same command gives the same bytes,
 * statuses and exit codes wherever it runs. Each test file calls this once inside its describe.
 */
export function jobBehaviourSuite(ctx: () => JobBehaviourContext): void {
  let dir: string;
  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'vmo-e2e-')));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const submit = (job: Record<string, unknown>) => {
    const { client, target, submit: viaRun } = ctx();
    return viaRun ? viaRun(job) : client.submit({ target, ...job });
  };
  const run = async (job: Record<string, unknown>) => {
    const submitted = await submit(job);
    return { submitted, ended: await ctx().client.waitForEnd(submitted.id) };
  };

  it('keeps stdout and stderr apart, in raw and ndjson form', async () => {
    const { client } = ctx();
    const { submitted, ended } = await run({ command: "printf 'out-1\\n'; printf 'err-1\\n' >&2; printf 'out-2\\n'; printf 'err-2\\n' >&2" });
    expect(ended).toMatchObject({ status: 'succeeded', exitCode: 0, signal: null, error: null, outputBytes: 24, outputTruncated: false });

    expect((await client.logs(submitted.id, '?stream=stdout')).toString()).toBe('out-1\nout-2\n');
    expect((await client.logs(submitted.id, '?stream=stderr')).toString()).toBe('err-1\nerr-2\n');
    const all = (await client.logs(submitted.id)).toString();
    expect(all.length).toBe(24);
    expect([...all.matchAll(/out-\d/g)].map((m) => m[0])).toEqual(['out-1', 'out-2']);

    const lines = await ndjsonLogs(client, submitted.id);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i)); // dense from 0
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['data', 'seq', 'stream', 'ts']);
      expect(['stdout', 'stderr']).toContain(line.stream);
      expect(Number.isNaN(Date.parse(line.ts))).toBe(false);
    }
    const join = (stream: string) => Buffer.concat(lines.filter((l) => l.stream === stream).map((l) => Buffer.from(l.data, 'base64'))).toString();
    expect(join('stdout')).toBe('out-1\nout-2\n');
    expect(join('stderr')).toBe('err-1\nerr-2\n');

    const afterFirst = await client.logs(submitted.id, `?after=${lines[0]!.seq}`);
    expect(afterFirst.equals(Buffer.concat(lines.slice(1).map((l) => Buffer.from(l.data, 'base64'))))).toBe(true);

    const onlyErr = await ndjsonLogs(client, submitted.id, '&stream=stderr');
    expect(onlyErr.every((l) => l.stream === 'stderr')).toBe(true);
    expect(Buffer.concat(onlyErr.map((l) => Buffer.from(l.data, 'base64'))).toString()).toBe('err-1\nerr-2\n');
  });

  it('records exit codes and signals: 0 succeeded, 3 failed with exitCode 3, killed by a signal failed with it', async () => {
    const [ok, three, killed] = await Promise.all([run({ command: 'exit 0' }), run({ command: 'exit 3' }), run({ command: 'kill -KILL $$' })]);
    expect(ok.ended).toMatchObject({ status: 'succeeded', exitCode: 0, signal: null });
    expect(three.ended).toMatchObject({ status: 'failed', exitCode: 3, signal: null });
    expect(killed.ended).toMatchObject({ status: 'failed', exitCode: null, signal: 'SIGKILL' });
    for (const { ended } of [ok, three, killed]) {
      expect(ended.startedAt).not.toBeNull();
      expect(Date.parse(ended.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(ended.startedAt!));
    }
  });

  it("gives the job its env over a minimal base, never the runner's own environment", async () => {
    const { client, hostOnlyVar } = ctx();
    const { submitted, ended } = await run({ command: 'env', env: { E2E_GREETING: 'hello world', E2E_QUOTED: `it's "$HOME"` } });
    expect(ended.status).toBe('succeeded');
    const env = new Map(
      (await client.logs(submitted.id, '?stream=stdout'))
        .toString()
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    expect(env.get('E2E_GREETING')).toBe('hello world');
    expect(env.get('E2E_QUOTED')).toBe(`it's "$HOME"`); // passed as data, not expanded
    expect(env.get('VMO_JOB_ID')).toBe(submitted.id);
    expect(env.get('PATH')).toBeTruthy();
    expect(env.has(hostOnlyVar)).toBe(false);
    expect([...env.keys()].filter((k) => k.startsWith('VMO_') && k !== 'VMO_JOB_ID')).toEqual([]);
  });

  it('runs in the requested cwd', async () => {
    const { client } = ctx();
    const { submitted, ended } = await run({ command: 'pwd', cwd: dir });
    expect(ended).toMatchObject({ status: 'succeeded', cwd: dir });
    expect((await client.logs(submitted.id)).toString()).toBe(`${dir}\n`);
  });

  it('fails clearly, without running anything, when the cwd does not exist', async () => {
    const { ended } = await run({ command: 'echo should-not-run', cwd: join(dir, 'missing') });
    expect(ended.status).toBe('failed');
    expect(ended.error).not.toBeNull();
    expect(ended.outputBytes).toBe(0);
  });

  it('returns 1 MiB of random bytes byte for byte (same sha256 from /logs?stream=stdout)', async () => {
    const { client } = ctx();
    const file = `random-${Math.random().toString(36).slice(2)}.bin`;
    const { submitted, ended } = await run({ command: `head -c 1048576 /dev/urandom > ${file} && cat ${file} && echo done >&2`, cwd: dir });
    expect(ended).toMatchObject({ status: 'succeeded', outputBytes: 1048576 + 5, outputTruncated: false });
    const written = await readFile(join(dir, file));
    expect(written.length).toBe(1048576);
    const stdout = await client.logs(submitted.id, '?stream=stdout');
    expect(stdout.length).toBe(1048576);
    expect(sha256(stdout)).toBe(sha256(written));
    expect((await client.logs(submitted.id, '?stream=stderr')).toString()).toBe('done\n');
    const lines = await ndjsonLogs(client, submitted.id);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i));
  });

  it('times out: timeoutMs ends the job as timed_out and leaves no process behind', async () => {
    const marker = uniqueSleepArg();
    const { ended } = await run({ command: `echo started; sleep ${marker}`, timeoutMs: 1000 });
    expect(ended.status).toBe('timed_out');
    await waitForNoProcess(`sleep ${marker}`);
  });

  it('cancels a running job (202, then canceled), kills its whole process group, and refuses a second cancel (409)', async () => {
    const { client } = ctx();
    const marker = uniqueSleepArg();
    const job = await submit({ command: `sleep ${marker} & sleep ${marker}; wait` });
    await client.waitForStatus(job.id, 'running');
    await waitForProcesses(`^sleep ${marker}`, 2);

    const cancel = await client.request('POST', `/v1/jobs/${job.id}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.id).toBe(job.id);
    const ended = await client.waitForEnd(job.id);
    expect(ended.status).toBe('canceled');
    await waitForNoProcess(`sleep ${marker}`);

    const again = await client.request('POST', `/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toEqual(expect.any(String));
    expect(again.body.error.message).toEqual(expect.any(String));
  });

  it('SIGKILLs the group after graceMs when the command ignores SIGTERM', async () => {
    const { client } = ctx();
    const marker = uniqueSleepArg();
    const job = await submit({ command: `trap '' TERM; sleep ${marker} & sleep ${marker}; wait` });
    await client.waitForStatus(job.id, 'running');
    await waitForProcesses(`^sleep ${marker}`, 2);

    const cancel = await client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 300 });
    expect(cancel.status).toBe(202);
    expect((await client.waitForEnd(job.id)).status).toBe('canceled');
    await waitForNoProcess(`sleep ${marker}`);
  });
}
