/**
 * Issue 10, "Per-target concurrency": an agent's or a host's `maxConcurrentJobs` caps how many of
 * its jobs run at once; the rest wait `queued`, first in first out, holding no worker slot, with
 * `queuePosition` on GET /v1/jobs/{id}; a job's end starts the next at once, and so does a PATCH
 * that raises the limit. Real API, worker, agent and sshd processes.
 *
 * Every job here blocks until the test creates its own "go" file, so the test decides when each
 * one ends, and what ran when is read afterwards from the jobs' started_at and finished_at.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { generateKey, startSshd, TestSystem, waitFor, type Sshd } from '@vmo/testkit';

/** Short, so that the jobs here wait for their slot far longer than it (they must not fail `agent_offline` for that). */
const DISPATCH_TIMEOUT_MS = 5000;

interface Timed {
  id: string;
  started: number; // µs since the epoch, from Postgres
  finished: number;
}

/** How many of `jobs` were running at the instant `at` (a start at `at` counts, an end at `at` does not). */
const runningAt = (jobs: Timed[], at: number) => jobs.filter((j) => j.started <= at && at < j.finished).length;

describe('per-target concurrency (maxConcurrentJobs)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  const dir = mkdtempSync(join(tmpdir(), 'vmo-target-gate-'));
  const go = (name: string) => writeFileSync(join(dir, `go-${name}`), '');
  /** A command that waits for the test to say go (or for the directory to be gone: no loop outlives the file), then prints its name. */
  const blocked = (name: string) => `while [ -d '${dir}' ] && [ ! -e '${join(dir, `go-${name}`)}' ]; do sleep 0.05; done; echo ${name}`;

  async function timings(ids: string[]): Promise<Timed[]> {
    const rows = await sql<{ id: string; started: string; finished: string }[]>`
      select id, (extract(epoch from started_at) * 1e6)::bigint::text as started, (extract(epoch from finished_at) * 1e6)::bigint::text as finished
      from jobs where id in ${sql(ids)}`;
    const byId = new Map(rows.map((r) => [r.id, { id: r.id, started: Number(r.started), finished: Number(r.finished) }]));
    return ids.map((id) => byId.get(id)!);
  }

  const statuses = async (ids: string[]) => Promise.all(ids.map((id) => system.client.job(id)));

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'target_gate', env: { VMO_DISPATCH_TIMEOUT_MS: String(DISPATCH_TIMEOUT_MS), VMO_WORKER_CONCURRENCY: '16' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an agent with maxConcurrentJobs 2 runs 6 jobs two at a time, in submission order; waiting ones show their queuePosition; PATCH raises the limit', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('gate-agent');
    const patched = await client.request('PATCH', `/v1/agents/${agent.id}`, { maxConcurrentJobs: 2 });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ id: agent.id, maxConcurrentJobs: 2 });
    expect((await client.request('GET', '/v1/agents/gate-agent')).body.maxConcurrentJobs).toBe(2);

    const names = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
    const ids: string[] = [];
    for (const name of names) ids.push((await client.submit({ command: blocked(name), target: { type: 'agent', agent: 'gate-agent' } })).id);

    // The first two run; the other four wait in line, 0 to 3.
    const line = await waitFor('a0 and a1 running, a2..a5 waiting in line', async () => {
      const jobs = await statuses(ids);
      const shape = jobs.map((j) => [j.status, j.queuePosition]);
      return JSON.stringify(shape) === JSON.stringify([['running', null], ['running', null], ['queued', 0], ['queued', 1], ['queued', 2], ['queued', 3]]) ? jobs : undefined;
    }, 30_000);
    expect(line.map((j) => j.queuePosition)).toEqual([null, null, 0, 1, 2, 3]);
    // The listing says the same.
    const listed = await client.request('GET', `/v1/jobs?target=gate-agent&status=queued`);
    expect(Object.fromEntries(listed.body.items.map((j: { id: string; queuePosition: number }) => [j.id, j.queuePosition]))).toEqual({ [ids[2]!]: 0, [ids[3]!]: 1, [ids[4]!]: 2, [ids[5]!]: 3 });
    expect((await client.request('GET', '/v1/agents/gate-agent')).body.runningJobs).toBe(2);

    // Waiting for a busy agent is not waiting for an offline one: let them wait past the dispatch timeout.
    await waitFor('the waiting jobs to have waited longer than the dispatch timeout', async () => {
      const [row] = await sql<{ waited: number }[]>`select (extract(epoch from clock_timestamp() - created_at) * 1000)::int as waited from jobs where id = ${ids[5]!}`;
      return row!.waited > DISPATCH_TIMEOUT_MS + 1000;
    }, DISPATCH_TIMEOUT_MS + 30_000, 200);
    expect((await statuses(ids)).map((j) => j.status)).toEqual(['running', 'running', 'queued', 'queued', 'queued', 'queued']);

    // One ends: the next in line starts, and the line moves up.
    go('a0');
    await waitFor('a2 to start after a0 ended', async () => {
      const jobs = await statuses(ids);
      return jobs[0]!.status === 'succeeded' && jobs[2]!.status === 'running' ? jobs : undefined;
    }, 30_000);
    expect((await statuses(ids)).map((j) => [j.status, j.queuePosition])).toEqual([
      ['succeeded', null],
      ['running', null],
      ['running', null],
      ['queued', 0],
      ['queued', 1],
      ['queued', 2],
    ]);

    // A higher limit lets the next one through at once.
    const raised = await client.request('PATCH', `/v1/agents/${agent.id}`, { maxConcurrentJobs: 3 });
    expect(raised.status, raised.text).toBe(200);
    const afterRaise = await waitFor('a3 to start after the limit went to 3', async () => {
      const jobs = await statuses(ids);
      return jobs[3]!.status === 'running' ? jobs : undefined;
    }, 30_000);
    expect(afterRaise.map((j) => j.status)).toEqual(['succeeded', 'running', 'running', 'running', 'queued', 'queued']);
    expect(afterRaise.map((j) => j.queuePosition)).toEqual([null, null, null, null, 0, 1]);

    for (const name of names) go(name);
    const ended = await Promise.all(ids.map((id) => client.waitForEnd(id, 60_000)));
    expect(ended.map((j) => [j.status, j.exitCode, j.error])).toEqual(names.map(() => ['succeeded', 0, null]));
    for (const [i, id] of ids.entries()) expect((await client.logs(id)).toString()).toBe(`${names[i]}\n`);

    // What ran when, from Postgres: never more than 2 at once while the limit was 2 (a0..a2
    // started under it), never more than 3 after; and first in, first out: when a job started,
    // the jobs running plus the earlier ones still waiting fitted in the limit, so no job ever
    // took the slot of one submitted before it. (a4 and a5, let through together when the rest
    // ended at once, may start in either order within that.)
    const timed = await timings(ids);
    timed.forEach((t, j) => {
      const limit = j < 3 ? 2 : 3;
      const earlierWaiting = timed.slice(0, j).filter((e) => e.started > t.started).length;
      expect(runningAt(timed, t.started), `running when ${names[j]} started`).toBeLessThanOrEqual(limit);
      expect(runningAt(timed, t.started) + earlierWaiting, `running and earlier waiting when ${names[j]} started`).toBeLessThanOrEqual(limit);
    });
    // a2 and a3 were let through one at a time, after a0 and a1: in submission order. (a0 and a1
    // fitted in the limit together from the start, and may start in either order: a1's gate
    // counts a0 ahead of it, 0 running + 1 ahead < 2.)
    const [a0, a1, a2, a3] = timed.slice(0, 4).map((t) => t.started) as [number, number, number, number];
    expect(Math.max(a0, a1)).toBeLessThan(a2);
    expect(a2).toBeLessThan(a3);
  });

  it("a fleet run's child waits for its agent's slot like a single job, in line, and runs when it frees", async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    await system.startAgent('run-agent');
    expect((await client.request('PATCH', '/v1/agents/run-agent', { maxConcurrentJobs: 1 })).status).toBe(200);
    const single = await client.submit({ command: blocked('r0'), target: { type: 'agent', agent: 'run-agent' } });
    await client.waitForStatus(single.id, 'running');
    const run = await client.request('POST', '/v1/runs', { command: blocked('r1'), targets: { agents: ['run-agent'] } });
    expect(run.status, run.text).toBe(201);
    const child = await waitFor('the child released and waiting in line', async () => {
      const page = await client.request('GET', `/v1/jobs?run=${run.body.id}`);
      const job = page.body.items?.[0];
      return job && job.status === 'queued' && job.queuePosition === 0 ? job : undefined;
    }, 30_000);
    expect(await client.job(child.id)).toMatchObject({ status: 'queued', queuePosition: 0, runId: run.body.id });
    go('r0');
    await client.waitForStatus(child.id, 'running');
    go('r1');
    expect(await client.waitForEnd(child.id)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await client.logs(child.id)).toString()).toBe('r1\n');
    const [order] = await sql<{ ok: boolean }[]>`
      select (select finished_at from jobs where id = ${single.id}) <= (select started_at from jobs where id = ${child.id}) as ok`;
    expect(order!.ok).toBe(true);
  });

  it('an agent without a limit runs them all at once (no queuePosition)', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    await system.startAgent('free-agent');
    const names = ['f0', 'f1', 'f2', 'f3'];
    const ids: string[] = [];
    for (const name of names) ids.push((await client.submit({ command: blocked(name), target: { type: 'agent', agent: 'free-agent' } })).id);
    const jobs = await waitFor('all four running', async () => {
      const now = await statuses(ids);
      return now.every((j) => j.status === 'running') ? now : undefined;
    }, 30_000);
    expect(jobs.map((j) => j.queuePosition)).toEqual([null, null, null, null]);
    expect((await client.request('GET', '/v1/agents/free-agent')).body).toMatchObject({ maxConcurrentJobs: null, runningJobs: 4 });
    for (const name of names) go(name);
    for (const id of ids) expect((await client.waitForEnd(id, 60_000)).status).toBe('succeeded');
  });

  it('an agent that goes away after its job waited for a slot: the dispatch timeout counts from when it was last seen', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('gone-agent');
    expect((await client.request('PATCH', `/v1/agents/${agent.id}`, { maxConcurrentJobs: 1 })).status).toBe(200);
    const busy = await client.submit({ command: blocked('never'), target: { type: 'agent', agent: 'gone-agent' } });
    await client.waitForStatus(busy.id, 'running');
    const waiting = await client.submit({ command: 'echo must-not-run', target: { type: 'agent', agent: 'gone-agent' } });
    // It waits for the slot longer than the dispatch timeout, with the agent online.
    await waitFor('the waiting job to be older than the dispatch timeout', async () => {
      const [row] = await sql<{ waited: number }[]>`select (extract(epoch from clock_timestamp() - created_at) * 1000)::int as waited from jobs where id = ${waiting.id}`;
      return row!.waited > DISPATCH_TIMEOUT_MS + 1000;
    }, DISPATCH_TIMEOUT_MS + 30_000, 200);
    expect(await client.job(waiting.id)).toMatchObject({ status: 'queued', queuePosition: 0 });

    // Then the agent goes away. The job now waits for an offline agent, and gets the whole
    // dispatch timeout for it, from when the agent was last seen, not from its submission.
    await agent.process.kill();
    go('never'); // the command the killed agent left behind, if it outlived it
    const ended = await client.waitForEnd(waiting.id, DISPATCH_TIMEOUT_MS + 60_000);
    expect(ended).toMatchObject({ status: 'failed', outputBytes: 0, error: { code: 'agent_offline' } });
    const [row] = await sql<{ after_seen: number }[]>`
      select (extract(epoch from j.finished_at - a.last_seen_at) * 1000)::int as after_seen from jobs j join agents a on a.id = j.agent_id where j.id = ${waiting.id}`;
    expect(row!.after_seen).toBeGreaterThanOrEqual(DISPATCH_TIMEOUT_MS);
  });
});

describe('per-target concurrency on an SSH host', () => {
  let system: TestSystem;
  let sshd: Sshd;
  let sql: postgres.Sql;
  let keyDir: string;
  const dir = mkdtempSync(join(tmpdir(), 'vmo-target-gate-ssh-'));
  const go = (name: string) => writeFileSync(join(dir, `go-${name}`), '');
  const blocked = (name: string) => `while [ -d '${dir}' ] && [ ! -e '${join(dir, `go-${name}`)}' ]; do sleep 0.05; done; echo ${name}`;

  beforeAll(async () => {
    keyDir = await mkdtemp(join(tmpdir(), 'vmo-target-gate-keys-'));
    const userKey = await generateKey(keyDir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    // The host key is pinned through the inventory (hostKeyPolicy accept-new pins it on first use).
    system = await TestSystem.start({ label: 'target_gate_ssh', env: { VMO_SSH_KEY_DIRS: keyDir } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    const created = await system.client.request('POST', '/v1/hosts', {
      name: 'box',
      host: '127.0.0.1',
      port: sshd.port,
      user: 'root',
      identityFile: userKey.privatePath,
      hostKeyPolicy: 'accept-new',
      maxConcurrentJobs: 1,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.maxConcurrentJobs).toBe(1);
  });
  afterAll(async () => {
    await sql?.end();
    await system?.stop();
    await sshd?.stop();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a host with maxConcurrentJobs 1 runs its SSH jobs one at a time, in order', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const names = ['s0', 's1', 's2'];
    const ids: string[] = [];
    for (const name of names) ids.push((await client.submit({ command: blocked(name), target: { type: 'ssh', host: 'box' } })).id);
    await waitFor('s0 running, s1 and s2 in line', async () => {
      const jobs = await Promise.all(ids.map((id) => client.job(id)));
      return JSON.stringify(jobs.map((j) => [j.status, j.queuePosition])) === JSON.stringify([['running', null], ['queued', 0], ['queued', 1]]);
    }, 30_000);
    go('s0');
    await waitFor('s1 running after s0 ended', async () => {
      const jobs = await Promise.all(ids.map((id) => client.job(id)));
      return JSON.stringify(jobs.map((j) => [j.status, j.queuePosition])) === JSON.stringify([['succeeded', null], ['running', null], ['queued', 0]]);
    }, 30_000);
    go('s1');
    go('s2');
    const ended = await Promise.all(ids.map((id) => client.waitForEnd(id, 60_000)));
    expect(ended.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const [i, id] of ids.entries()) expect((await client.logs(id)).toString()).toBe(`${names[i]}\n`);

    const rows = await sql<{ id: string; started: string; finished: string }[]>`
      select id, (extract(epoch from started_at) * 1e6)::bigint::text as started, (extract(epoch from finished_at) * 1e6)::bigint::text as finished
      from jobs where id in ${sql(ids)} order by started_at`;
    expect(rows.map((r) => r.id)).toEqual(ids);
    // One at a time: each started after the one before it finished.
    for (let i = 1; i < rows.length; i++) expect(Number(rows[i]!.started)).toBeGreaterThanOrEqual(Number(rows[i - 1]!.finished));
  });

  it('PATCH null removes the limit: the waiting jobs start at once', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const ids: string[] = [];
    for (const name of ['p0', 'p1', 'p2']) ids.push((await client.submit({ command: blocked(name), target: { type: 'ssh', host: 'box' } })).id);
    await waitFor('p0 running, the others in line', async () => {
      const jobs = await Promise.all(ids.map((id) => client.job(id)));
      return jobs.map((j) => j.status).join() === 'running,queued,queued';
    }, 30_000);
    const cleared = await client.request('PATCH', '/v1/hosts/box', { maxConcurrentJobs: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.maxConcurrentJobs).toBeNull();
    const jobs = await waitFor('all three running', async () => {
      const now = await Promise.all(ids.map((id) => client.job(id)));
      return now.every((j) => j.status === 'running') ? now : undefined;
    }, 30_000);
    expect(jobs.map((j) => j.queuePosition)).toEqual([null, null, null]);
    for (const name of ['p0', 'p1', 'p2']) go(name);
    for (const id of ids) expect((await client.waitForEnd(id, 60_000)).status).toBe('succeeded');
  });
});
