/**
 * Issue 14, "Retries", against the real stack (API, worker, agents, Postgres, Redis): a command
 * that fails twice then succeeds (a counter file) ends `succeeded` on attempt 3 with each
 * attempt's output kept apart (logs?attempt=N, the stream from attempt 1 through the others) and
 * each attempt listed with its exit code and times; the backoff between attempts is within the
 * stated jitter (measured from the attempts' own timestamps); an exit code `on` does not name is
 * not retried; a cancel (during the backoff wait, and during a running attempt) is never
 * retried; an agent job `lost` with on.lost runs again when its agent is back (killed -9), and a
 * frozen agent's stale attempt is abandoned with none of its late output in the next attempt;
 * bad input on every field is a 400 naming it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { retryDelayRange, resolveRetryPolicy } from '@vmo/shared/domain';
import { openWebSocket, processesMatching, TestSystem, uniqueSleepArg, waitFor } from '@vmo/testkit';

let system: TestSystem;
/** Under /tmp with the `vmo-` prefix the leak check of the notes looks for. */
const dir = mkdtempSync(join(tmpdir(), 'vmo-retries-'));
/** In every long-running command of this file: what is left of them is found (and killed) by it. */
const marker = uniqueSleepArg(30);

/** A command that counts its runs in `name` and says which run it is; it succeeds from run `okFrom` on (never if 0). */
const counted = (name: string, okFrom: number, extra = '') => {
  const f = join(dir, name);
  return `n=$(cat '${f}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${f}'; echo "run $n out"; echo "run $n err" >&2; ${extra} [ ${okFrom} -gt 0 ] && [ $n -ge ${okFrom} ]`;
};
const runs = (name: string) => (existsSync(join(dir, name)) ? Number(readFileSync(join(dir, name), 'utf8').trim()) : 0);
const ms = (iso: string | null) => new Date(iso!).getTime();

beforeAll(async () => {
  system = await TestSystem.start({
    label: 'retries',
    // A short agent grace, so a killed agent's job is `lost` within seconds (the janitor runs every second).
    env: { VMO_AGENT_GRACE_MS: '3000', VMO_MAINTENANCE_MS: '1000' },
  });
});

afterAll(async () => {
  for (const pid of await processesMatching(marker)) process.kill(pid, 'SIGKILL');
  await system?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a job that fails twice, then succeeds', () => {
  it('ends succeeded on attempt 3; each attempt keeps its own output, exit code and times; the backoff is within the jitter', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const retry = { max: 3, backoff: { type: 'exponential', delayMs: 600, jitter: 0.5 } } as const;
    const job = await client.submit({ command: counted('flaky', 3), retry });
    expect(job).toMatchObject({ status: 'queued', retry: resolveRetryPolicy(retry), retryAt: null });

    // While it waits for attempt 2 it is `queued`, with retryAt shown.
    const waiting = await waitFor('the wait for attempt 2', async () => {
      const j = await client.job(job.id);
      return j.status === 'queued' && j.retryAt ? j : undefined;
    }, 30_000, 20);
    expect(waiting).toMatchObject({ attempt: 1, exitCode: null, startedAt: null });

    const end = await client.waitForEnd(job.id, 60_000);
    expect(end).toMatchObject({ status: 'succeeded', attempt: 3, exitCode: 0, retryAt: null });
    expect(runs('flaky')).toBe(3);

    // Each attempt's output apart; the latest by default.
    for (const n of [1, 2, 3]) {
      expect((await client.logs(job.id, `?attempt=${n}`)).toString()).toMatch(new RegExp(`^(run ${n} out\\nrun ${n} err\\n|run ${n} err\\nrun ${n} out\\n)$`));
      expect((await client.logs(job.id, `?attempt=${n}&stream=stdout`)).toString()).toBe(`run ${n} out\n`);
    }
    expect((await client.logs(job.id)).toString()).toContain('run 3 out\n');
    const chunks = await client.vmo.jobs.logChunks(job.id, { attempt: 2 });
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i)); // seqs from 0 in each attempt

    // The attempts: exit codes, times, and the delays drawn within [d × (1 − jitter), d].
    const { items } = await client.vmo.jobs.attempts(job.id);
    expect(items.map((a) => [a.attempt, a.status, a.exitCode])).toEqual([
      [1, 'failed', 1],
      [2, 'failed', 1],
      [3, 'succeeded', 0],
    ]);
    const policy = resolveRetryPolicy(retry);
    for (const [i, a] of items.entries()) {
      expect(ms(a.startedAt)).toBeLessThanOrEqual(ms(a.finishedAt));
      expect(a.outputBytes).toBe(`run ${i + 1} out\nrun ${i + 1} err\n`.length);
      if (i === 2) {
        expect(a.retryAt).toBeNull();
        continue;
      }
      const drawn = ms(a.retryAt) - ms(a.finishedAt);
      const { minMs, maxMs } = retryDelayRange(policy.backoff, i + 1);
      expect(drawn).toBeGreaterThanOrEqual(minMs);
      expect(drawn).toBeLessThanOrEqual(maxMs);
      // And the next attempt did not start before it was due.
      expect(ms(items[i + 1]!.startedAt)).toBeGreaterThanOrEqual(ms(a.retryAt));
    }
    expect(ms(items[1]!.startedAt) - ms(items[0]!.finishedAt)).toBeGreaterThanOrEqual(300);
    expect(ms(items[2]!.startedAt) - ms(items[1]!.finishedAt)).toBeGreaterThanOrEqual(600);

    // The stream from attempt 1 goes through every attempt, each marked, to the end.
    const seen: string[] = [];
    const streamEnd = await client.vmo.jobs.follow(job.id, {
      attempt: 1,
      onAttempt: (n) => seen.push(`attempt ${n}`),
      onOutput: (c) => c.stream === 'stdout' && seen.push(`${c.attempt}:${c.seq}:${Buffer.from(c.data).toString().trim()}`),
    });
    expect(streamEnd).toMatchObject({ type: 'end', status: 'succeeded', exitCode: 0 });
    expect(seen.filter((s) => s.startsWith('attempt'))).toEqual(['attempt 2', 'attempt 3']);
    expect(seen.filter((s) => !s.startsWith('attempt')).map((s) => s.replace(/:\d+:/, ':'))).toEqual(['1:run 1 out', '2:run 2 out', '3:run 3 out']);
    // By default (and ?attempt=3) the stream serves the latest attempt only.
    const latest: string[] = [];
    await client.vmo.jobs.follow(job.id, { onAttempt: (n) => latest.push(`attempt ${n}`), onOutput: (c) => latest.push(`${c.attempt}`) });
    expect(latest).toEqual(['3', '3']);
  }, 60_000);

  it('follows a job live through its retries', async () => {
    const { client } = system;
    const job = await client.submit({ command: counted('live', 2, 'sleep 0.3;'), retry: { max: 1, backoff: { type: 'fixed', delayMs: 200 } } });
    const seen: string[] = [];
    const end = await client.vmo.jobs.follow(job.id, {
      onAttempt: (n) => seen.push(`attempt ${n}`),
      onOutput: (c) => c.stream === 'stdout' && seen.push(`${c.attempt}:${Buffer.from(c.data).toString().trim()}`),
    });
    expect(end.status).toBe('succeeded');
    expect(seen).toEqual(['1:run 1 out', 'attempt 2', '2:run 2 out']);
  }, 30_000);
});

describe('what is not retried', () => {
  it('an exit code on.exitCodes does not name', async () => {
    const { client } = system;
    const job = await client.submit({ command: 'echo once; exit 3', retry: { max: 5, backoff: { type: 'fixed', delayMs: 0 }, on: { exitCodes: [75, 111] } } });
    const end = await client.waitForEnd(job.id);
    expect(end).toMatchObject({ status: 'failed', exitCode: 3, attempt: 1 });
    expect((await client.vmo.jobs.attempts(job.id)).items).toHaveLength(1);
    // The listed code is: 75 three times, then 0.
    const listed = await client.submit({ command: `${counted('listed', 3)} || exit 75`, retry: { max: 5, backoff: { type: 'fixed', delayMs: 0 }, on: { exitCodes: [75] } } });
    expect(await client.waitForEnd(listed.id)).toMatchObject({ status: 'succeeded', attempt: 3 });
  });

  it('a job canceled during the backoff wait: canceled at once, never run again', async () => {
    const { client } = system;
    const job = await client.submit({ command: counted('cancel-wait', 0), retry: { max: 5, backoff: { type: 'fixed', delayMs: 60_000 } } });
    await waitFor('the wait for attempt 2', async () => {
      const j = await client.job(job.id);
      return j.status === 'queued' && j.retryAt ? j : undefined;
    }, 30_000, 20);
    const canceled = await client.request('POST', `/v1/jobs/${job.id}/cancel`, {});
    expect(canceled.status).toBe(202);
    expect(canceled.body).toMatchObject({ status: 'canceled', retryAt: null, attempt: 1 });
    const { items } = await client.vmo.jobs.attempts(job.id);
    expect(items.map((a) => [a.attempt, a.status, a.startedAt === null])).toEqual([
      [1, 'failed', false],
      [2, 'canceled', true],
    ]);
    expect(runs('cancel-wait')).toBe(1);
  });

  it('a job canceled while an attempt runs: canceled, not retried', async () => {
    const { client } = system;
    const job = await client.submit({ command: `echo started; sleep ${marker}`, retry: { max: 5, backoff: { type: 'fixed', delayMs: 0 }, on: { exitCodes: 'nonzero', timedOut: true, lost: true } } });
    await waitFor('the attempt to run', async () => ((await client.logs(job.id)).toString() === 'started\n' ? true : undefined), 30_000, 20);
    expect((await client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 1000 })).status).toBe(202);
    const end = await client.waitForEnd(job.id);
    expect(end).toMatchObject({ status: 'canceled', attempt: 1 });
    expect((await client.vmo.jobs.attempts(job.id)).items.map((a) => a.status)).toEqual(['canceled']);
  });
});

describe('agent jobs', () => {
  it('lost with on.lost (the agent killed -9): retried, the next attempt runs when the agent is back', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('retry-doomed');
    const job = await client.submit({
      command: counted('lost', 2, `[ $n -eq 1 ] && sleep ${marker};`),
      target: { type: 'agent', agent: 'retry-doomed' },
      retry: { max: 2, backoff: { type: 'fixed', delayMs: 100 }, on: { lost: true } },
    });
    await waitFor('attempt 1 to run', async () => ((await client.logs(job.id)).includes('run 1 out') ? true : undefined), 30_000, 20);
    await agent.process.kill();
    // Lost after the grace, then back to `queued` for attempt 2 (the agent is away: it waits).
    await waitFor('the retry of the lost attempt', async () => ((await client.vmo.jobs.attempts(job.id)).items[0]?.status === 'lost' ? true : undefined), 30_000, 100);
    expect((await client.job(job.id)).status).toBe('queued');
    for (const pid of await processesMatching(marker)) process.kill(pid, 'SIGKILL'); // attempt 1's orphan

    system.spawnAgent(agent.token);
    const end = await client.waitForEnd(job.id, 60_000);
    expect(end).toMatchObject({ status: 'succeeded', attempt: 2 });
    const { items } = await client.vmo.jobs.attempts(job.id);
    expect(items.map((a) => [a.attempt, a.status, a.error?.code ?? null])).toEqual([
      [1, 'lost', 'agent_lost'],
      [2, 'succeeded', null],
    ]);
    expect((await client.logs(job.id, '?attempt=2&stream=stdout')).toString()).toBe('run 2 out\n');
  }, 60_000);

  it('a frozen agent\'s stale attempt: abandoned when it comes back, and none of its late output lands in the next attempt', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('retry-frozen');
    // Attempt 1 writes a line every 100 ms for as long as it lives; attempt 2 says so once and ends.
    const f = join(dir, 'frozen');
    const command = `n=$(cat '${f}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${f}'; if [ $n -eq 1 ]; then while true; do echo "stale attempt 1"; sleep 0.1; done; fi; echo "attempt $n"; : ${marker}`;
    const job = await client.submit({ command, target: { type: 'agent', agent: 'retry-frozen' }, retry: { max: 2, backoff: { type: 'fixed', delayMs: 100 }, on: { lost: true } } });
    await waitFor('attempt 1 to run', async () => ((await client.logs(job.id)).includes('stale attempt 1') ? true : undefined), 30_000, 20);
    agent.process.child.kill('SIGSTOP');
    try {
      // Frozen past the grace: lost and retried; its command keeps writing into the agent's pipe.
      await waitFor('the retry of the lost attempt', async () => ((await client.vmo.jobs.attempts(job.id)).items[0]?.status === 'lost' ? true : undefined), 30_000, 100);
    } finally {
      agent.process.child.kill('SIGCONT');
    }
    // Back: its hello reports attempt 1, which the server abandons; attempt 2 then runs on it.
    const end = await client.waitForEnd(job.id, 60_000);
    expect(end).toMatchObject({ status: 'succeeded', attempt: 2 });
    await agent.process.waitForOutput(/job abandoned by the server: killing it/);
    expect((await client.logs(job.id, '?attempt=2')).toString()).toBe('attempt 2\n');
    const first = (await client.logs(job.id, '?attempt=1')).toString();
    expect(first.split('\n').filter(Boolean).every((l) => l === 'stale attempt 1')).toBe(true);
    // Nothing more of attempt 1 is stored after its retry (its late output was refused), and its byte count is its own.
    const { items } = await client.vmo.jobs.attempts(job.id);
    expect(items[0]!.outputBytes).toBe(Buffer.byteLength(first));
    expect(items[1]!.outputBytes).toBe('attempt 2\n'.length);
    await agent.process.stop();
  }, 60_000);
});

describe('runs', () => {
  it("retries a child before it counts against maxErrors: every child fails once, the run (one at a time, maxErrors 0) still succeeds", async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    await Promise.all([system.startAgent('retry-run-1'), system.startAgent('retry-run-2')]);
    // A counter per child (its job id): each fails its first attempt and succeeds its second.
    const command = `f='${dir}'/"$VMO_JOB_ID"; n=$(cat "$f" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$f"; echo "child run $n"; [ $n -ge 2 ]`;
    const retry = { max: 1, backoff: { type: 'fixed', delayMs: 100 } } as const;
    const run = await client.vmo.runs.submit({ command, targets: { agents: ['retry-run-1', 'retry-run-2'] }, strategy: { maxConcurrency: 1, maxErrors: 0 }, retry });
    expect(run.retry).toEqual(resolveRetryPolicy(retry));
    const ended = await waitFor('the run to end', async () => {
      const r = await client.vmo.runs.get(run.id);
      return ['succeeded', 'failed', 'canceled'].includes(r.status) ? r : undefined;
    }, 60_000, 100);
    expect(ended.status).toBe('succeeded');
    const children = await Promise.all((await client.vmo.runs.jobs(run.id)).items.map((c) => client.job(c.id)));
    expect(children.map((c) => [c.status, c.attempt, c.retry?.max])).toEqual([
      ['succeeded', 2, 1],
      ['succeeded', 2, 1],
    ]);
    for (const c of children) {
      expect((await client.vmo.jobs.attempts(c.id)).items.map((a) => a.status)).toEqual(['failed', 'succeeded']);
      expect((await client.logs(c.id, '?attempt=1')).toString()).toBe('child run 1\n');
    }

    // Retries used up: the child fails for good, counts, and the next is skipped.
    const failing = await client.vmo.runs.submit({ command: 'echo no; exit 1', targets: { agents: ['retry-run-1', 'retry-run-2'] }, strategy: { maxConcurrency: 1, maxErrors: 0 }, retry });
    const stopped = await waitFor('the failing run to end', async () => {
      const r = await client.vmo.runs.get(failing.id);
      return ['succeeded', 'failed', 'canceled'].includes(r.status) ? r : undefined;
    }, 60_000, 100);
    expect(stopped.status).toBe('failed');
    const [first, second] = await Promise.all((await client.vmo.runs.jobs(failing.id)).items.map((c) => client.job(c.id)));
    expect([first!.status, first!.attempt, second!.status, second!.error?.code]).toEqual(['failed', 2, 'skipped', 'max_errors_exceeded']);
  }, 60_000);
});

describe('bad input', () => {
  const fixed = { type: 'fixed', delayMs: 10 };
  it.each<[string, unknown, RegExp]>([
    ['retry', 'yes', /^retry: /],
    ['retry.max', { max: -1 }, /^retry\.max: must be at least 0/],
    ['retry.max', { max: 101 }, /^retry\.max: must be at most 100/],
    ['retry.max', { backoff: fixed }, /^retry\.max: /],
    ['retry.backoff', { max: 1, backoff: 5 }, /^retry\.backoff: /],
    ['retry.backoff.type', { max: 1, backoff: { type: 'linear', delayMs: 1 } }, /^retry\.backoff\.type: must be "exponential" or "fixed"/],
    ['retry.backoff.delayMs', { max: 1, backoff: { type: 'fixed', delayMs: -1 } }, /^retry\.backoff\.delayMs: must be at least 0/],
    ['retry.backoff.delayMs', { max: 1, backoff: { type: 'fixed', delayMs: 86_400_001 } }, /^retry\.backoff\.delayMs: must be at most 86400000/],
    ['retry.backoff.maxDelayMs', { max: 1, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 10 } }, /^retry\.backoff\.maxDelayMs: must be at least delayMs/],
    ['retry.backoff.jitter', { max: 1, backoff: { ...fixed, jitter: 2 } }, /^retry\.backoff\.jitter: must be at most 1/],
    ['retry.on', { max: 1, on: {} }, /^retry\.on: must retry on something/],
    ['retry.on.exitCodes', { max: 1, on: { exitCodes: [0] } }, /^retry\.on\.exitCodes/],
    ['retry.on.exitCodes', { max: 1, on: { exitCodes: 'all' } }, /^retry\.on\.exitCodes: must be "nonzero" or a list/],
    ['retry.on.lost', { max: 1, on: { lost: 'true' } }, /^retry\.on\.lost: must be true or false/],
    ['retry.on.agentOffline', { max: 1, on: { agentOffline: 1 } }, /^retry\.on\.agentOffline: must be true or false/],
    ['retry.on.timedOut', { max: 1, on: { timedOut: null } }, /^retry\.on\.timedOut: must be true or false/],
  ])('%s on a job and on a run: 400 naming it, nothing created', async (field, retry, message) => {
    const { client } = system;
    const before = (await client.request('GET', '/v1/jobs?limit=500')).body.items.length;
    for (const [path, body] of [
      ['/v1/jobs', { command: 'true', retry }],
      ['/v1/runs', { command: 'true', targets: { agents: ['retry-frozen'] }, retry }],
    ] as const) {
      const res = await client.request('POST', path, body);
      expect(res.status, `${path} ${JSON.stringify(retry)}`).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message).toMatch(message);
      expect(res.body.error.details.field.startsWith(field)).toBe(true);
    }
    expect((await client.request('GET', '/v1/jobs?limit=500')).body.items.length).toBe(before);
  });

  it('?attempt on the logs and the stream: 400 for a bad one, 404 for one the job has not reached', async () => {
    const { client } = system;
    const job = await client.submit({ command: 'echo hi' });
    await client.waitForEnd(job.id);
    for (const bad of ['0', '-1', 'x', '1.5']) {
      const res = await client.request('GET', `/v1/jobs/${job.id}/logs?attempt=${bad}`);
      expect([res.status, res.body.error.message]).toEqual([400, expect.stringMatching(/^attempt: must be an attempt number/)]);
    }
    const far = await client.request('GET', `/v1/jobs/${job.id}/logs?attempt=5`);
    expect([far.status, far.body.error.code]).toEqual([404, 'not_found']);
    expect((await client.logs(job.id, '?attempt=1')).toString()).toBe('hi\n');
    for (const [query, status] of [['?attempt=0', 400], ['?attempt=x', 400]] as const) {
      const res = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${job.id}/stream${query}`, { token: system.token });
      expect(res.kind === 'refused' ? [res.status, JSON.parse(res.body).error.message] : res.kind).toEqual([status, expect.stringMatching(/^attempt: must be an attempt number/)]);
    }
    // Beyond the attempt to come: closed 4404 after the upgrade, as a job that does not exist.
    const beyond = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${job.id}/stream?attempt=9`, { token: system.token });
    expect(beyond.kind === 'open' ? (await beyond.closed).code : beyond.kind).toBe(4404);
  });
});
